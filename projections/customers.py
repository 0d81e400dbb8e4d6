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

from events.customer import (
    Balances,
    CustomerActivated,
    CustomerBlocked,
    CustomerCreated,
    CustomerErased,
    EmailChanged,
    LinksRevoked,
    PhoneChanged,
)
from projections.folding import Change, Insert, StateFold, Table, Update
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
    sql.SQL(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS pending numeric NOT NULL DEFAULT 0"),
    sql.SQL(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS debt numeric NOT NULL DEFAULT 0"),
    sql.SQL(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS link_version integer NOT NULL "
            "DEFAULT 0"),
)

ROWS = Table(TABLE, ("customer_id",), {
    "customer_id": "uuid", "programme": "text", "uniq_id": "text", "status": "text",
    "phone": "text", "email": "text", "balance": "numeric", "pending": "numeric",
    "debt": "numeric", "created_at": "timestamptz", "activated_at": "timestamptz",
    "blocked_at": "timestamptz", "link_version": "integer", "erased_at": "timestamptz",
})


FOLDED: tuple[type, ...] = (
    CustomerCreated, PhoneChanged, EmailChanged, Balances, CustomerActivated, LinksRevoked,
    CustomerBlocked, CustomerErased,
)
"""The event classes (and their subclasses) `fold` turns into changes; others: none."""


STATE_FOLDS: dict[type, StateFold] = {}
"""No class of this read model is folded from its stored JSON (`projections.view`)."""


def fold(event: object, _: object) -> list[Change]:
    """The changes that bring a customer's row up to date with one event."""
    customer_id = getattr(event, "originator_id", None)

    def update(**values: object) -> list[Change]:
        return [Update(ROWS, (customer_id,), values)]

    match event:
        case CustomerCreated(programme=programme, uniq_id=uniq_id, status=status):
            return [Insert(ROWS, {
                "customer_id": customer_id, "programme": programme, "uniq_id": uniq_id,
                "status": status, "phone": event.phone, "email": event.email,
                "created_at": event.timestamp,
                "activated_at": event.timestamp if status == "Active" else None})]
        case PhoneChanged(phone=phone):
            return update(phone=phone)
        case EmailChanged(email=email):
            return update(email=email)
        case Balances(active=active, pending=pending, debt=debt):
            return update(balance=active, pending=pending, debt=debt)
        case CustomerActivated():
            return update(status="Active", activated_at=event.timestamp, blocked_at=None)
        case LinksRevoked(link_version=link_version):
            return update(link_version=link_version)
        case CustomerBlocked():
            return update(status="Blocked", blocked_at=event.timestamp)
        case CustomerErased(link_version=link_version):
            return update(phone=None, email=None, erased_at=event.timestamp,
                          link_version=link_version)
    return []


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
    """The active points: those that can be spent."""
    created_at: datetime
    activated_at: datetime | None
    blocked_at: datetime | None
    pending: Decimal
    debt: Decimal
    link_version: int
    erased_at: datetime | None = None
    """When the customer's personal data was erased (None: never)."""


SELECT_ONE = sql.SQL(f"SELECT * FROM {TABLE} WHERE programme = %s AND uniq_id = %s")


async def find_customer(
    conn: AsyncConnection[Any], programme: str, uniq_id: str
) -> CustomerRow | None:
    """The customer with this uniqId in this programme, or None."""
    async with conn.cursor(row_factory=class_row(CustomerRow)) as cursor:
        await cursor.execute(SELECT_ONE, (programme, uniq_id))
        return await cursor.fetchone()


async def count_customers(conn: AsyncConnection[Any]) -> dict[str, int]:
    """Status -> number of customers, all programmes together."""
    cursor = await conn.execute(sql.SQL(f"SELECT status, count(*) FROM {TABLE} GROUP BY 1"))
    return {status: count for status, count in await cursor.fetchall()}
