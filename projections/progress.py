"""How far the followers of the event store have come, and whether they are stuck.

- `read_progress`: the event store's head against the read models' position;
- `Heartbeat`: a follower (the read models' writer, the relay) records its position, the
  target it follows and when it last moved, every few seconds, in `read_models.followers`;
- `read_followers`: those heartbeats, judged: a follower is *stuck* when it is behind and has
  not moved for `stuck_after` seconds, *silent* when it has not beaten for as long (its process
  is gone or hangs); `/healthz` and `/metrics` report both;
- `last_verification`: the result of the last `loyalty projections verify`;
- `count_quarantined`: the events left out of the read models.
"""

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import structlog
from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

from projections.schema import (
    APPLICATION_NAME,
    FOLLOWERS,
    QUARANTINE,
    SCHEMA,
    TRACKING_TABLE,
    VERIFICATIONS,
)

log = structlog.get_logger(__name__)

EVENTS_TABLE = f"public.{APPLICATION_NAME.lower()}_events"
TRACKING = f"{SCHEMA}.{TRACKING_TABLE}"


@dataclass(frozen=True)
class Progress:
    """The highest notification id stored and the highest one folded into the read models."""

    head: int
    position: int

    @property
    def lag(self) -> int:
        """Events stored but not yet in the read models."""
        return max(0, self.head - self.position)


async def read_progress(conn: AsyncConnection[Any]) -> Progress:
    """The read models' progress (0 for a table that does not exist yet)."""
    cursor = await conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL",
        (EVENTS_TABLE, TRACKING),
    )
    has_events, has_tracking = await cursor.fetchone() or (False, False)
    head = position = 0
    if has_events:
        cursor = await conn.execute(sql.SQL(f"SELECT max(notification_id) FROM {EVENTS_TABLE}"))
        head = ((await cursor.fetchone()) or (0,))[0] or 0
    if has_tracking:
        cursor = await conn.execute(sql.SQL(
            f"SELECT notification_id FROM {TRACKING} WHERE application_name = %s"),
            (APPLICATION_NAME,))
        position = ((await cursor.fetchone()) or (0,))[0] or 0
    return Progress(head=head, position=position)


BEAT = sql.SQL(f"""
    INSERT INTO {FOLLOWERS} (name, position, target, progressed_at, beat_at, stuck)
    VALUES (%(name)s, %(position)s, %(target)s, now() - make_interval(secs => %(idle)s), now(),
            %(stuck)s)
    ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, target = EXCLUDED.target,
        progressed_at = EXCLUDED.progressed_at, beat_at = EXCLUDED.beat_at,
        stuck = EXCLUDED.stuck""")


class Heartbeat:
    """A follower's heartbeat in `read_models.followers`, on a connection of its own. A beat
    that cannot be written (the database is away) is skipped: the next one will do."""

    def __init__(self, dsn: str, name: str, stuck_after: float) -> None:
        self.dsn = dsn
        self.name = name
        self.stuck_after = stuck_after
        self.connection: psycopg.Connection[Any] | None = None
        self.beaten_at = 0.0

    def due(self, every: float) -> bool:
        """Whether `every` seconds have passed since the last beat."""
        return time.monotonic() - self.beaten_at >= every

    def beat(self, position: int, target: int, seconds_since_progress: float) -> None:
        """Records where the follower is, what it follows, and how long it has been behind
        without moving (its watchdog's figure)."""
        self.beaten_at = time.monotonic()
        try:
            if self.connection is None or self.connection.closed:
                self.connection = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
            self.connection.execute(BEAT, {
                "name": self.name, "position": position, "target": target,
                "idle": seconds_since_progress,
                "stuck": target > position and seconds_since_progress > self.stuck_after})
        except psycopg.Error as error:
            log.info("heartbeat not recorded", follower=self.name, error=repr(error))
            self.close()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@dataclass(frozen=True)
class FollowerStatus:
    """A follower as its last heartbeat shows it."""

    name: str
    position: int
    target: int
    progressed_at: datetime
    beat_at: datetime
    seconds_since_progress: float
    seconds_since_beat: float

    @property
    def lag(self) -> int:
        return max(0, self.target - self.position)

    def stuck(self, stuck_after: float) -> bool:
        """Behind, and not moved for `stuck_after` seconds (or no longer beating at all)."""
        return (self.lag > 0 and self.seconds_since_progress > stuck_after) \
            or self.silent(stuck_after)

    def silent(self, stuck_after: float) -> bool:
        return self.seconds_since_beat > stuck_after


SELECT_FOLLOWERS = sql.SQL(f"""
    SELECT name, position, target, progressed_at, beat_at,
        extract(epoch FROM now() - progressed_at)::float AS seconds_since_progress,
        extract(epoch FROM now() - beat_at)::float AS seconds_since_beat
    FROM {FOLLOWERS} ORDER BY name""")


async def read_followers(conn: AsyncConnection[Any]) -> list[FollowerStatus]:
    """Every follower's last heartbeat (none before the tables exist)."""
    cursor = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (FOLLOWERS,))
    if not ((await cursor.fetchone()) or (False,))[0]:
        return []
    async with conn.cursor(row_factory=class_row(FollowerStatus)) as rows:
        await rows.execute(SELECT_FOLLOWERS)
        return await rows.fetchall()


@dataclass(frozen=True)
class Verification:
    """One run of `loyalty projections verify`."""

    finished_at: datetime
    scope: str
    position: int
    aggregates: int
    differences: int
    quarantined: int


async def last_verification(conn: AsyncConnection[Any]) -> Verification | None:
    """The last verification's result (None: never verified)."""
    cursor = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VERIFICATIONS,))
    if not ((await cursor.fetchone()) or (False,))[0]:
        return None
    async with conn.cursor(row_factory=class_row(Verification)) as rows:
        await rows.execute(sql.SQL(
            f"SELECT finished_at, scope, position, aggregates, differences, quarantined "
            f"FROM {VERIFICATIONS} ORDER BY id DESC LIMIT 1"))
        return await rows.fetchone()


async def count_quarantined(conn: AsyncConnection[Any]) -> int:
    """Events left out of the read models, waiting for a rebuild (0 before the tables exist)."""
    cursor = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (QUARANTINE,))
    if not ((await cursor.fetchone()) or (False,))[0]:
        return 0
    cursor = await conn.execute(sql.SQL(f"SELECT count(*) FROM {QUARANTINE}"))
    return int(((await cursor.fetchone()) or (0,))[0])
