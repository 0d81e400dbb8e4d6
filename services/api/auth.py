"""Organiser API keys: each key reads and changes the customers and items of one programme.

Keys are kept as their SHA-256 digests (configured as such, or hashed at start), and a key is
found by comparing its digest with every configured digest in constant time, without stopping
at a match: how long the check takes says nothing about the keys.
"""

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from services.api.resources import resources_of
from services.settings import Settings

API_KEY_HEADER = "X-Api-Key"

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False,
    description="The organiser's API key; it decides the programme that is read.",
)


class ApiKeys:
    """The configured keys: digest -> programme."""

    def __init__(self, digests: list[tuple[bytes, str]]) -> None:
        self._digests = digests

    @classmethod
    def of(cls, settings: Settings) -> "ApiKeys":
        return cls(settings.api_key_digests())

    def programme_of(self, key: str) -> str | None:
        """The programme of `key`, or None when no configured key is `key`."""
        digest = hashlib.sha256(key.encode()).digest()
        found = None
        for configured, programme in self._digests:
            if hmac.compare_digest(configured, digest):
                found = programme
        return found


def programme_of(request: Request, key: str | None = Security(api_key_header)) -> str:
    """The programme of the request's API key: 401 without a key, 403 for an unknown one."""
    if not key:
        raise HTTPException(401, f"the {API_KEY_HEADER} header is missing")
    programme = resources_of(request).keys.programme_of(key)
    if programme is None:
        raise HTTPException(403, "the API key is not known")
    return programme


Programme = Annotated[str, Depends(programme_of)]
"""A route parameter: the programme that the caller's API key may read."""
