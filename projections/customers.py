"""Read model `customers`: one row per customer with status, contacts, balance and key times.

`activated_at` is the time of the latest activation (the creation time for a customer created
Active); `blocked_at` is the time of the current block and is cleared when the customer is
activated again.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

from projections.folding import Folds, Statement
from projections.schema import SCHEMA

TABLE = f"{SCHEMA}.customers"

DDL = (
    sql.SQL(f"""
    CREATE TABLE IF NOT EXISTS {TABLE} (
        customer_id uuid PRIMARY KEY,
        programme text NOT NULL,
        uniq_id text NOT NULL,
        status text NOT NULL,
        phone text,
        email text,
        balance numeric NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL,
        activated_at timestamptz,
        blocked_at timestamptz,
        UNIQUE (programme, uniq_id)
    )"""),
)

INSERT = sql.SQL(f"""
    INSERT INTO {TABLE} (customer_id, programme, uniq_id, status, created_at, activated_at)
    VALUES (%(customer_id)s, %(programme)s, %(uniq_id)s, %(status)s, %(at)s,
            CASE WHEN %(status)s = 'Active' THEN %(at)s::timestamptz END)""")
SET_PHONE = sql.SQL(f"UPDATE {TABLE} SET phone = %(phone)s WHERE customer_id = %(customer_id)s")
SET_EMAIL = sql.SQL(f"UPDATE {TABLE} SET email = %(email)s WHERE customer_id = %(customer_id)s")
SET_BALANCE = sql.SQL(
    f"UPDATE {TABLE} SET balance = %(balance)s WHERE customer_id = %(customer_id)s"
)
SET_STATUS = sql.SQL(f"""
    UPDATE {TABLE} SET status = %(status)s,
        activated_at = CASE WHEN %(status)s = 'Active' THEN %(at)s ELSE activated_at END,
        blocked_at = CASE WHEN %(status)s = 'Blocked' THEN %(at)s::timestamptz END
    WHERE customer_id = %(customer_id)s""")

QUERIES = (INSERT, SET_PHONE, SET_EMAIL, SET_BALANCE, SET_STATUS)
"""In the order a batch runs them: the row first, then each column by its only writer."""


def created(event: Any, _: int) -> list[Statement]:
    """CustomerCreated: a new row, New or Active, with a zero balance."""
    return [Statement(INSERT, {
        "customer_id": event.originator_id, "programme": event.programme,
        "uniq_id": event.uniq_id, "status": event.status, "at": event.timestamp,
    })]


def phone_changed(event: Any, _: int) -> list[Statement]:
    """PhoneChanged: the new E.164 number replaces the old one."""
    return [Statement(SET_PHONE, {"customer_id": event.originator_id, "phone": event.phone})]


def email_changed(event: Any, _: int) -> list[Statement]:
    """EmailChanged: the new address replaces the old one."""
    return [Statement(SET_EMAIL, {"customer_id": event.originator_id, "email": event.email})]


def points_accrued(event: Any, _: int) -> list[Statement]:
    """PointsAccrued: the balance after the accrual, as the aggregate computed it."""
    params = {"customer_id": event.originator_id, "balance": event.balance}
    return [Statement(SET_BALANCE, params)]


def activated(event: Any, _: int) -> list[Statement]:
    """CustomerActivated: Active again, or for the first time."""
    params = {"customer_id": event.originator_id, "status": "Active", "at": event.timestamp}
    return [Statement(SET_STATUS, params)]


def blocked(event: Any, _: int) -> list[Statement]:
    """CustomerBlocked: Blocked since the event's time."""
    params = {"customer_id": event.originator_id, "status": "Blocked", "at": event.timestamp}
    return [Statement(SET_STATUS, params)]


FOLDS: Folds = {
    "CustomerCreated": created,
    "PhoneChanged": phone_changed,
    "EmailChanged": email_changed,
    "PointsAccrued": points_accrued,
    "CustomerActivated": activated,
    "CustomerBlocked": blocked,
}


@dataclass(frozen=True)
class CustomerRow:
    """One customer as the read model holds it."""

    customer_id: UUID
    programme: str
    uniq_id: str
    status: str
    phone: str | None
    email: str | None
    balance: Decimal
    created_at: datetime
    activated_at: datetime | None
    blocked_at: datetime | None


SELECT_ONE = sql.SQL(f"SELECT * FROM {TABLE} WHERE programme = %s AND uniq_id = %s")


async def find_customer(
    conn: AsyncConnection[Any], programme: str, uniq_id: str
) -> CustomerRow | None:
    """The customer with this uniqId in this programme, or None."""
    async with conn.cursor(row_factory=class_row(CustomerRow)) as cursor:
        await cursor.execute(SELECT_ONE, (programme, uniq_id))
        return await cursor.fetchone()


async def count_customers(conn: AsyncConnection[Any]) -> dict[tuple[str, str], int]:
    """(programme, status) -> number of customers."""
    cursor = await conn.execute(
        sql.SQL(f"SELECT programme, status, count(*) FROM {TABLE} GROUP BY 1, 2")
    )
    return {(programme, status): count for programme, status, count in await cursor.fetchall()}
