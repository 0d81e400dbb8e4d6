"""The read models' connection pool: opened with the application, lent per request."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from services.settings import Settings

POOL_TIMEOUT_SECONDS = 5.0


def read_pool(settings: Settings) -> AsyncConnectionPool[AsyncConnection[Any]]:
    """A pool of connections to the read models (not opened: nothing connects yet)."""
    return AsyncConnectionPool(
        settings.postgres_dsn, min_size=1, max_size=10, open=False,
        timeout=POOL_TIMEOUT_SECONDS, kwargs={"autocommit": True},
    )


async def lend_connection(request: Request) -> AsyncIterator[AsyncConnection[Any]]:
    """A pooled connection for the duration of one request."""
    pool: AsyncConnectionPool[AsyncConnection[Any]] = request.app.state.pool
    async with pool.connection() as conn:
        yield conn


Connection = Annotated[AsyncConnection[Any], Depends(lend_connection)]
"""A route parameter: a connection to the read models."""
