"""Read model `lots`: every accrual's lot, its remaining points and dates (SPEC §13).

It gives the customer's expiry schedule (`expiries`: remaining points by the date they expire)
and tells the clock (`services.clock`) which customers have points due to become available or
to expire. Statements run in the order of the events, so a cancel can give points back to a
lot up to what was spent from it (the rest of a cancel clears debt, not a lot).
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

from events.customer import (
    DebtRepaid,
    PointsAccrued,
    PointsActivated,
    PointsExpired,
    PointsReversed,
    PointsSpent,
    SpendCancelled,
)
from projections.folding import Statement
from projections.schema import SCHEMA

TABLE = f"{SCHEMA}.lots"

DDL = (
    sql.SQL(f"""
    CREATE TABLE IF NOT EXISTS {TABLE} (
        customer_id uuid NOT NULL,
        lot_guid text NOT NULL,
        amount numeric NOT NULL,
        remaining numeric NOT NULL,
        spent numeric NOT NULL DEFAULT 0,
        state text NOT NULL,
        available_from timestamptz,
        expires_at timestamptz,
        expires_on date,
        PRIMARY KEY (customer_id, lot_guid)
    )"""),
    sql.SQL(f"""CREATE INDEX IF NOT EXISTS lots_due_to_activate
        ON {TABLE} (available_from) WHERE state = 'pending'"""),
    sql.SQL(f"""CREATE INDEX IF NOT EXISTS lots_due_to_expire
        ON {TABLE} (expires_at) WHERE state <> 'expired' AND remaining > 0"""),
)

INSERT = sql.SQL(f"""
    INSERT INTO {TABLE} (customer_id, lot_guid, amount, remaining, state, available_from,
        expires_at, expires_on)
    VALUES (%(customer_id)s, %(lot_guid)s, %(amount)s, %(amount)s, %(state)s,
        %(available_from)s, %(expires_at)s, %(expires_on)s)""")
ACTIVATED = sql.SQL(
    f"UPDATE {TABLE} SET state = 'active' WHERE customer_id = %(customer_id)s "
    f"AND lot_guid = %(lot_guid)s")
EXPIRED = sql.SQL(
    f"UPDATE {TABLE} SET state = 'expired', remaining = remaining - %(amount)s "
    f"WHERE customer_id = %(customer_id)s AND lot_guid = %(lot_guid)s")
TAKEN = sql.SQL(
    f"UPDATE {TABLE} SET remaining = remaining - %(amount)s, spent = spent + %(amount)s "
    f"WHERE customer_id = %(customer_id)s AND lot_guid = %(lot_guid)s")
REVERSED = sql.SQL(
    f"UPDATE {TABLE} SET remaining = remaining - %(from_remaining)s, "
    f"spent = spent - %(to_debt)s WHERE customer_id = %(customer_id)s AND lot_guid = %(lot_guid)s")
GIVEN_BACK = sql.SQL(
    f"UPDATE {TABLE} SET remaining = remaining + LEAST(%(amount)s, spent), "
    f"spent = spent - LEAST(%(amount)s, spent) "
    f"WHERE customer_id = %(customer_id)s AND lot_guid = %(lot_guid)s")


def fold(event: object, _: int) -> list[Statement]:
    """The statements that bring the customer's lots up to date with one event."""
    customer_id = getattr(event, "originator_id", None)

    def on(query: sql.SQL, lot_guid: str, **params: Any) -> Statement:
        return Statement(query, {"customer_id": customer_id, "lot_guid": lot_guid, **params})

    match event:
        case PointsAccrued():
            return [on(INSERT, event.guid, amount=event.amount,
                       state="active" if event.available else "pending",
                       available_from=event.available_from, expires_at=event.expires_at,
                       expires_on=None if event.expires_at is None else event.expires_at.date())]
        case PointsActivated(lot_guid=lot_guid):
            return [on(ACTIVATED, lot_guid)]
        case PointsExpired(lot_guid=lot_guid, amount=amount):
            return [on(EXPIRED, lot_guid, amount=amount)]
        case DebtRepaid(lot_guid=lot_guid, amount=amount):
            return [on(TAKEN, lot_guid, amount=amount)]
        case PointsReversed():
            return [on(REVERSED, event.original_guid, from_remaining=event.from_remaining,
                       to_debt=event.to_debt)]
        case PointsSpent(allocations=allocations):
            return [on(TAKEN, a["lot_guid"], amount=a["amount"]) for a in allocations]
        case SpendCancelled(allocations=allocations, credited=credited):
            returned = [on(GIVEN_BACK, a["lot_guid"], amount=a["amount"]) for a in allocations]
            return returned + ([on(INSERT, event.guid, amount=credited, state="active",
                                   available_from=None, expires_at=None, expires_on=None)]
                               if credited > 0 else [])
    return []


@dataclass(frozen=True)
class Expiry:
    """Remaining points that expire on one date."""

    date: date
    amount: Decimal


SELECT_EXPIRIES = sql.SQL(f"""
    SELECT l.expires_on AS date, sum(l.remaining) AS amount
    FROM {TABLE} l JOIN {SCHEMA}.customers c ON c.customer_id = l.customer_id
    WHERE c.programme = %s AND c.uniq_id = %s AND l.state <> 'expired' AND l.remaining > 0
        AND l.expires_on IS NOT NULL
    GROUP BY l.expires_on ORDER BY l.expires_on""")


async def find_expiries(conn: AsyncConnection[Any], programme: str,
                        uniq_id: str) -> list[Expiry]:
    """The customer's remaining points by the date (as the accrual named it) they expire."""
    async with conn.cursor(row_factory=class_row(Expiry)) as cursor:
        await cursor.execute(SELECT_EXPIRIES, (programme, uniq_id))
        return await cursor.fetchall()


@dataclass(frozen=True)
class Due:
    """A customer with points due to become available or to expire."""

    programme: str
    uniq_id: str


SELECT_DUE = sql.SQL(f"""
    SELECT DISTINCT c.programme, c.uniq_id
    FROM {TABLE} l JOIN {SCHEMA}.customers c ON c.customer_id = l.customer_id
    WHERE (l.state = 'pending' AND l.available_from <= %(now)s)
       OR (l.state <> 'expired' AND l.remaining > 0 AND l.expires_at <= %(now)s)
    LIMIT %(limit)s""")


async def find_due(conn: AsyncConnection[Any], now: datetime, limit: int) -> list[Due]:
    """Customers with a lot due at `now` (at most `limit`)."""
    async with conn.cursor(row_factory=class_row(Due)) as cursor:
        await cursor.execute(SELECT_DUE, {"now": now, "limit": limit})
        return await cursor.fetchall()
