"""Organiser API keys: each key reads the customers and items of one programme only."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

API_KEY_HEADER = "X-Api-Key"

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False,
    description="The organiser's API key; it decides the programme that is read.",
)


def programme_of(request: Request, key: str | None = Security(api_key_header)) -> str:
    """The programme of the request's API key: 401 without a key, 403 for an unknown one."""
    if not key:
        raise HTTPException(401, f"the {API_KEY_HEADER} header is missing")
    keys: dict[str, str] = request.app.state.api_keys
    programme = keys.get(key)
    if programme is None:
        raise HTTPException(403, "the API key is not known")
    return programme


Programme = Annotated[str, Depends(programme_of)]
"""A route parameter: the programme that the caller's API key may read."""
