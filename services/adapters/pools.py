"""Pools of asyncio connections to PostgreSQL, for the HTTP application's reads.

`read_pool` is the pool of the read models' connections (nothing connects until it is opened).
An application is started, stopped and, in tests, started again, and psycopg's pool cannot be
opened again once closed: `PoolPerStart` makes a new pool at every start, with the factory the
composition root gives it, and lends its connections meanwhile. Whatever reads through it
(the window's reads, the login limits, health) is built once and keeps working across starts.
"""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolClosed

from services.settings import Settings

POOL_TIMEOUT_SECONDS = 5.0

Pool = AsyncConnectionPool[AsyncConnection[Any]]


class Connections(Protocol):
    """What lends connections: a pool, or a `PoolPerStart`."""

    def connection(self, timeout: float | None = None,
                   ) -> AbstractAsyncContextManager[AsyncConnection[Any]]: ...


def read_pool(settings: Settings) -> Pool:
    """A pool of connections to the read models (not opened: nothing connects yet)."""
    return AsyncConnectionPool(
        settings.postgres_dsn, min_size=1, max_size=10, open=False,
        timeout=POOL_TIMEOUT_SECONDS, kwargs={"autocommit": True},
    )


class PoolPerStart:
    """A pool opened at each start of an application and closed at each stop."""

    def __init__(self, make: Callable[[], Pool]) -> None:
        self.make = make
        self.pool: Pool | None = None

    async def open(self) -> None:
        """Makes and opens a new pool; its connections are made in the background (the
        tables are `loyalty prepare`'s business, as for every service)."""
        self.pool = self.make()
        await self.pool.open(wait=False)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    def connection(self, timeout: float | None = None,
                   ) -> AbstractAsyncContextManager[AsyncConnection[Any]]:
        """A connection of the current pool, for the duration of the `async with`;
        `PoolClosed` (the database unavailable, to the API) when the application is not
        started."""
        if self.pool is None:
            raise PoolClosed("the read models' pool is not open: the application is not started")
        return self.pool.connection(timeout)
