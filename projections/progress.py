"""How far the read models have come: the event store's head against their tracking position."""

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql

from projections.schema import APPLICATION_NAME, SCHEMA, TRACKING_TABLE

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
