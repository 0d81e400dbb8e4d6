"""The bonus window's login rate limits, shared by every API instance through PostgreSQL.

A fixed-window counter: `read_models.login_hits` holds, for each key (a SHA-256 digest of what
is limited and its window, so no link or client address is stored) and each window (its number
since the epoch, by the database's clock, so instances whose clocks differ agree), the hits so
far. One statement counts a hit and returns the count (`INSERT ... ON CONFLICT DO UPDATE ...
RETURNING`), so concurrent logins on any instances never both see the last free hit. Rows of
windows that are over are deleted now and then. The table is made by `loyalty prepare` (a
migration of the read models' schema, `projections.migrations`), which
grants the services' role its rights on it as on every table of that schema; it is no read
model (nothing folds it, a rebuild keeps it).
"""

import hashlib
import time
from typing import Annotated, Protocol

from fastapi import Depends, Request
from limits import RateLimitItem
from psycopg import sql

from projections.schema import LOGIN_HITS
from services.adapters.pools import Connections
from services.api.resources import resources_of

TABLE = LOGIN_HITS

HIT = sql.SQL(f"""
    INSERT INTO {TABLE} AS counted (key, period, hits, ends_at)
    SELECT %(key)s, now.period, 1, to_timestamp((now.period + 1) * %(seconds)s)
    FROM (SELECT floor(extract(epoch FROM clock_timestamp()) / %(seconds)s)::bigint
          AS period) AS now
    ON CONFLICT (key, period) DO UPDATE SET hits = counted.hits + 1
    RETURNING hits""")
SWEEP = sql.SQL(f"DELETE FROM {TABLE} WHERE ends_at < clock_timestamp()")
SWEEP_EVERY_SECONDS = 60.0


class HitCounter(Protocol):
    """Counts hits per key in fixed windows of time."""

    async def hit(self, key: bytes, seconds: int) -> int:
        """Counts one hit of `key` in the current window of `seconds`; returns the hits of
        the window so far, this one included."""
        ...


class PostgresHits:
    """Hits counted in `read_models.login_hits`, through the application's pool."""

    def __init__(self, pool: Connections) -> None:
        self.pool = pool
        self._swept = time.monotonic()

    async def hit(self, key: bytes, seconds: int) -> int:
        async with self.pool.connection() as conn:
            counted = await (await conn.execute(HIT, {"key": key, "seconds": seconds})).fetchone()
            if time.monotonic() - self._swept > SWEEP_EVERY_SECONDS:
                self._swept = time.monotonic()
                await conn.execute(SWEEP)
        assert counted is not None
        return int(counted[0])


def login_hits_of(request: Request) -> HitCounter:
    """The application's `HitCounter`."""
    return resources_of(request).login_hits


Hits = Annotated[HitCounter, Depends(login_hits_of)]
"""A route parameter: the login limits' hit counter, shared by every API instance."""


class LoginLimits:
    """The window's two limits: logins per link, and per client address."""

    def __init__(self, per_link: RateLimitItem, per_address: RateLimitItem) -> None:
        self.per_link = per_link
        self.per_address = per_address

    async def allow(self, counter: HitCounter, token: str, address: str) -> bool:
        """Counts a login through the link `token` from `address`; whether both limits still
        let it through (a login refused per link is not counted against the address)."""
        return (await within(counter, self.per_link, "link", token)
                and await within(counter, self.per_address, "address", address))


async def within(counter: HitCounter, rate: RateLimitItem, kind: str, value: str) -> bool:
    """Counts one hit of `value` under `rate`; whether the rate still allows it."""
    seconds = rate.get_expiry()
    key = hashlib.sha256(f"{kind}\x1f{seconds}\x1f{value}".encode()).digest()
    return await counter.hit(key, seconds) <= rate.amount
