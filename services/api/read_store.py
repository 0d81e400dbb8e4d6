"""The read models' connections, lent per request from the application's pool."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from psycopg import AsyncConnection

from services.api.resources import resources_of


async def lend_connection(request: Request) -> AsyncIterator[AsyncConnection[Any]]:
    """A pooled connection for the duration of one request."""
    async with resources_of(request).read_models.connection() as conn:
        yield conn


Connection = Annotated[AsyncConnection[Any], Depends(lend_connection)]
"""A route parameter: a connection to the read models."""
