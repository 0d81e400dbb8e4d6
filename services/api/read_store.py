"""The read models' connection pool: opened with the application, lent per request."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from projections.schema import CREATE_SCHEMA
from projections.view import DDL
from services.settings import Settings

log = structlog.get_logger(__name__)

POOL_TIMEOUT_SECONDS = 5.0


def read_pool(settings: Settings) -> AsyncConnectionPool[AsyncConnection[Any]]:
    """A pool of connections to the read models (not opened: nothing connects yet)."""
    return AsyncConnectionPool(
        settings.postgres_dsn, min_size=1, max_size=10, open=False,
        timeout=POOL_TIMEOUT_SECONDS, kwargs={"autocommit": True},
    )


async def ensure_read_models(pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
    """Creates the read-model tables when missing, so that reads answer before the first
    projection run; logs and carries on when the database does not answer yet."""
    try:
        async with pool.connection() as conn, conn.transaction():
            await conn.execute(CREATE_SCHEMA)
            for statement in DDL:
                await conn.execute(statement)
    except Exception as error:  # the API still starts; /healthz tells what is wrong
        log.warning("read models not prepared", error=str(error))


async def lend_connection(request: Request) -> AsyncIterator[AsyncConnection[Any]]:
    """A pooled connection for the duration of one request."""
    pool: AsyncConnectionPool[AsyncConnection[Any]] = request.app.state.pool
    async with pool.connection() as conn:
        yield conn


Connection = Annotated[AsyncConnection[Any], Depends(lend_connection)]
"""A route parameter: a connection to the read models."""
