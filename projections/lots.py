"""Read model `lots`: every accrual's lot, its remaining points and dates (docs/points.md).

It gives the customer's expiry schedule (`expiries`: remaining points by the date they expire)
and tells the clock (`services.clock`) which customers have points due to become available or
to expire.

A fold, not a second wallet: the wallet (`services.domain.points`) decides what an operation
takes from which lot and records it, and each statement here adds or subtracts the amounts the
event carries (an expiry's, a repayment's, a spend's allocations, a reversal's
`from_remaining` and `to_debt`). One amount no event carries: how much of a cancel's share goes
back to a lot's points rather than to the debt that the lot's reversed spent points became.
`SpendCancelled` names the shares and the totals (`debt_cleared`, `credited`), not that split,
and carrying it would be a new version of a published event. So `GIVEN_BACK` reads it off the
row as `Lot.given_back` reads it off the lot: at most what was spent from it (the row keeps
`spent` for that). Statements run in the order of the events, so the row's `spent` is the lot's
when the cancel comes; tests/integration/test_lots_read_model.py holds every row equal to the
wallet's lot.
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
from projections.folding import Change, Insert, StateFold, Statement, Table, Update
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

ROWS = Table(TABLE, ("customer_id", "lot_guid"), {
    "customer_id": "uuid", "lot_guid": "text", "amount": "numeric", "remaining": "numeric",
    "state": "text", "available_from": "timestamptz", "expires_at": "timestamptz",
    "expires_on": "date",
})
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


FOLDED: tuple[type, ...] = (
    PointsAccrued, PointsActivated, PointsExpired, DebtRepaid, PointsReversed, PointsSpent,
    SpendCancelled,
)
"""The event classes (and their subclasses) `fold` turns into changes; others: none."""


STATE_FOLDS: dict[type, StateFold] = {}
"""No class of this read model is folded from its stored JSON (`projections.view`)."""


def fold(event: object, _: object) -> list[Change]:
    """The changes that bring the customer's lots up to date with one event: new lots and
    activations merge with the batch; what subtracts from a lot's current points runs as a
    statement of its own, in order."""
    customer_id = getattr(event, "originator_id", None)
    match event:
        case PointsAccrued():
            return [_lot(customer_id, event.guid, event.amount,
                         "active" if event.available else "pending", event.available_from,
                         event.expires_at)]
        case PointsActivated(lot_guid=lot_guid):
            return [Update(ROWS, (customer_id, lot_guid), {"state": "active"})]
        case PointsExpired(lot_guid=lot_guid, amount=amount):
            return [_on(EXPIRED, customer_id, lot_guid, amount=amount)]
        case DebtRepaid(lot_guid=lot_guid, amount=amount):
            return [_on(TAKEN, customer_id, lot_guid, amount=amount)]
        case PointsReversed():
            return [_on(REVERSED, customer_id, event.original_guid,
                        from_remaining=event.from_remaining, to_debt=event.to_debt)]
        case PointsSpent(allocations=allocations):
            return [_on(TAKEN, customer_id, a["lot_guid"], amount=a["amount"])
                    for a in allocations]
        case SpendCancelled(allocations=allocations, credited=credited):
            returned: list[Change] = [_on(GIVEN_BACK, customer_id, a["lot_guid"],
                                          amount=a["amount"]) for a in allocations]
            return returned + ([_lot(customer_id, event.guid, credited, "active", None, None)]
                               if credited > 0 else [])
    return []


def _on(query: sql.SQL, customer_id: Any, lot_guid: str, **params: Any) -> Statement:
    return Statement(query, {"customer_id": customer_id, "lot_guid": lot_guid, **params})


def _lot(customer_id: Any, lot_guid: str, amount: Decimal, state: str,
         available_from: datetime | None, expires_at: datetime | None) -> Insert:
    return Insert(ROWS, {
        "customer_id": customer_id, "lot_guid": lot_guid, "amount": amount, "remaining": amount,
        "state": state, "available_from": available_from, "expires_at": expires_at,
        "expires_on": None if expires_at is None else expires_at.date()})


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
