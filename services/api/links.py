"""Customers' login links: signed, expiring, revocable tokens to the bonus window.

A token is `<text>.<signature>`, both base64url without padding: the text names the programme,
the uniqId, the customer's link version and the instant the link expires; the signature is
HMAC-SHA256 of it under `LOYALTY_LINK_SECRET`. Each part is read only in its one canonical
spelling (padding, other characters or unused bits set: forged), so a link is exactly one
string, and one key of the rate limit per link. Nobody can make a link without the secret; a
link stops working when it expires (`LOYALTY_LINK_TTL_DAYS`, 30 by default) or when the
customer's links are revoked (`revokeLinks`: the customer's link version moves on, and links of
older versions are refused); changing the secret invalidates every link issued.
"""

import base64
import binascii
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import Field

from services.api.auth import Programme
from services.api.errors import described, error_response
from services.api.pipeline import PipelineUnavailableError, UnacknowledgedError, Upstream
from services.api.schemas import Body
from services.api.window_reads import Reads
from services.contract.commands import CommandType, WorkItem

PURPOSE = b"loyalty/login-link/v2\x00"
"""Prefix of every signed text: a signature made for another purpose never verifies here."""
SEPARATOR = "\x1f"
MAX_TOKEN_CHARS = 600
BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
"""The alphabet of a token's two parts: base64url, never padded."""


@dataclass(frozen=True)
class Login:
    """Whose login link a token is, of which link version, valid until when."""

    programme: str
    uniq_id: str
    version: int = 0
    expires: int = 0
    """Seconds since the epoch."""


class Refusal(StrEnum):
    """Why a token opens nothing."""

    FORGED = "forged"
    """Not issued under this secret (or altered, or not a token at all)."""
    EXPIRED = "expired"
    REVOKED = "revoked"


class LinkSigner:
    """Issues login-link tokens under one secret, and verifies them under it or an earlier
    one (`previous`: while a rotated secret's links have not yet expired)."""

    def __init__(self, secret: str, ttl: timedelta = timedelta(days=30),
                 clock: Callable[[], float] = time.time, previous: Sequence[str] = ()) -> None:
        self._key = secret.encode()
        self._keys = (self._key, *(old.encode() for old in previous))
        self._ttl = ttl
        self._clock = clock

    def token(self, programme: str, uniq_id: str, version: int) -> tuple[str, datetime]:
        """A new link's token for the customer's current link version, and its expiry."""
        expires = int(self._clock() + self._ttl.total_seconds())
        text = SEPARATOR.join((programme, uniq_id, str(version), str(expires))).encode()
        return f"{_encode(text)}.{_encode(self._sign(text))}", datetime.fromtimestamp(expires, UTC)

    def verify(self, token: str) -> Login | Refusal:
        """Whose link `token` is, or why it opens nothing (forged or expired; whether it was
        revoked is for the caller to say, who knows the customer's link version)."""
        login = self._read(token)
        if login is None:
            return Refusal.FORGED
        if login.expires <= self._clock():
            return Refusal.EXPIRED
        return login

    def _read(self, token: str) -> Login | None:
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            return None
        encoded_text, encoded_signature = token.split(".")
        try:
            text, signature = _decode(encoded_text), _decode(encoded_signature)
        except ValueError:
            return None
        if not any(hmac.compare_digest(signature, self._sign(text, key)) for key in self._keys):
            return None
        try:
            programme, rest = text.decode().split(SEPARATOR, 1)
            uniq_id, version, expires = rest.rsplit(SEPARATOR, 2)
            return Login(programme, uniq_id, int(version), int(expires))
        except ValueError:
            return None

    def _sign(self, text: bytes, key: bytes | None = None) -> bytes:
        return hmac.new(key or self._key, PURPOSE + text, hashlib.sha256).digest()


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    """The bytes of a part of a token in its one canonical spelling (base64url without padding,
    no other character, unused bits zero): one link is one string, so one rate-limit key."""
    if not BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:
        raise ValueError("not base64url") from error
    if _encode(raw) != text:
        raise ValueError("not the canonical spelling")
    return raw


def window_path(token: str) -> str:
    """Where a token opens the customer's bonus window."""
    return f"/window/{token}"


class LoginLink(Body):
    """A customer's login link, relative to the API's address, and when it expires."""

    uniq_id: str = Field(description="The customer's uniqId.", examples=["12345678"])
    url: str = Field(description="The link, relative to the API's address.",
                     examples=["/window/ZGVmYXVsdB8xMjM0NTY3OB8wHzE3Nzc..."])
    expires_at: datetime = Field(description="When the link stops working.",
                                 examples=["2026-04-01T09:15:00+00:00"])


class Revocation(Body):
    """The revokeLinks item sent for the customer: see `GET /v1/items/{guid}` for its outcome."""

    guid: str = Field(description="The revokeLinks item's guid.",
                      examples=["3d9c2b1a-0f8e-4d7c-9b6a-5e4d3c2b1a0f"])
    command_id: str = Field(description="Its commandId.",
                            examples=["revoke-3d9c2b1a-0f8e-4d7c-9b6a-5e4d3c2b1a0f"])


def links_router(signer: LinkSigner) -> APIRouter:
    """`GET /v1/customers/{uniqId}/link` and `POST /v1/customers/{uniqId}/links/revoke`."""
    router = APIRouter(prefix="/v1", tags=["bonus window"],
                       responses=described(401, 403, 422))
    UniqId = Annotated[str, Path(alias="uniqId", min_length=1,  # noqa: N806
                                 max_length=100, description="The customer's uniqId.")]

    @router.get("/customers/{uniqId}/link", response_model=LoginLink)
    async def get_login_link(programme: Programme, reads: Reads,
                             uniq_id: UniqId) -> LoginLink:
        """A login link to the customer's bonus window, valid for `LOYALTY_LINK_TTL_DAYS`
        unless the customer's links are revoked. It may be issued before the customer exists
        (the window then says the account is not found)."""
        version = await reads.link_version(programme, uniq_id)
        token, expires_at = signer.token(programme, uniq_id, version)
        return LoginLink(uniq_id=uniq_id, url=window_path(token), expires_at=expires_at)

    @router.post("/customers/{uniqId}/links/revoke", status_code=202,
                 response_model=Revocation, responses=described(503))
    async def revoke_links(programme: Programme, pipeline: Upstream,
                           uniq_id: UniqId) -> Any:
        """Revokes every login link issued to the customer so far (a `revokeLinks` item,
        recorded as the event `LinksRevoked` once processed); new links work again."""
        guid = str(uuid.uuid4())
        item = WorkItem(command_id=f"revoke-{guid}", type_of_command=CommandType.REVOKE_LINKS,
                        programme=programme, guid=guid, uniq_id=uniq_id)
        try:
            await pipeline.send_item(item)
        except UnacknowledgedError as error:
            return error_response(503, f"{error}: the links may still be revoked; revoking "
                                  "them again is harmless")
        except PipelineUnavailableError as error:
            return error_response(503, f"{error}: nothing was revoked, send it again")
        return JSONResponse(Revocation(guid=guid, command_id=item.command_id)
                            .model_dump(by_alias=True), status_code=202)

    return router
