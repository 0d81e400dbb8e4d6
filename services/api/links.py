"""Customers' unique login links: a stable, unguessable token per programme and uniqId.

A token is `<login>.<signature>`: the programme and uniqId, base64url-encoded, and their
HMAC-SHA256 under `settings.link_secret`. The same customer always gets the same link, nobody
can make one without the secret, and changing the secret invalidates every link issued.
"""

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Path

from services.api.auth import Programme
from services.api.errors import described
from services.api.schemas import Body

PURPOSE = b"loyalty/login-link/v1\x00"
"""Prefix of every signed text: a signature made for another purpose never verifies here."""
SEPARATOR = "\x1f"
MAX_TOKEN_CHARS = 400


@dataclass(frozen=True)
class Login:
    """Whose login link a token is."""

    programme: str
    uniq_id: str


class LinkSigner:
    """Issues and verifies login-link tokens under one secret."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def token(self, login: Login) -> str:
        """The token of this customer's link: always the same for the same customer."""
        text = f"{login.programme}{SEPARATOR}{login.uniq_id}".encode()
        return f"{_encode(text)}.{_encode(self._sign(text))}"

    def verify(self, token: str) -> Login | None:
        """Whose link `token` is, or None when it was not issued under this secret."""
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            return None
        encoded_text, encoded_signature = token.split(".")
        try:
            text, signature = _decode(encoded_text), _decode(encoded_signature)
        except ValueError:
            return None
        if not hmac.compare_digest(signature, self._sign(text)):
            return None
        programme, _, uniq_id = text.decode().partition(SEPARATOR)
        return Login(programme, uniq_id)

    def _sign(self, text: bytes) -> bytes:
        return hmac.new(self._key, PURPOSE + text, hashlib.sha256).digest()


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, UnicodeEncodeError) as error:
        raise ValueError("not base64url") from error


def window_path(token: str) -> str:
    """Where a token opens the customer's bonus window."""
    return f"/window/{token}"


class LoginLink(Body):
    """A customer's unique login link, relative to the API's address."""

    uniq_id: str
    url: str


def links_router(signer: LinkSigner) -> APIRouter:
    """`GET /v1/customers/{uniqId}/link` for organisers."""
    router = APIRouter(prefix="/v1", tags=["bonus window"],
                       responses=described(401, 403, 422))

    @router.get("/customers/{uniqId}/link", response_model=LoginLink)
    async def get_login_link(
        programme: Programme,
        uniq_id: Annotated[str, Path(alias="uniqId", min_length=1, max_length=100)],
    ) -> LoginLink:
        """The customer's unique login link to the bonus window. It is the same at every call
        and may be issued before the customer exists (the window then answers 404)."""
        token = signer.token(Login(programme, uniq_id))
        return LoginLink(uniq_id=uniq_id, url=window_path(token))

    return router
