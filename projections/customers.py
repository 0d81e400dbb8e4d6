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
    EmailChanged,
    LinksRevoked,
    PhoneChanged,
)
from projections.folding import Statement
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

INSERT = sql.SQL(f"""
    INSERT INTO {TABLE} (customer_id, programme, uniq_id, status, created_at, activated_at)
    VALUES (%(customer_id)s, %(programme)s, %(uniq_id)s, %(status)s, %(at)s,
            CASE WHEN %(status)s = 'Active' THEN %(at)s::timestamptz END)""")
SET_PHONE = sql.SQL(f"UPDATE {TABLE} SET phone = %(phone)s WHERE customer_id = %(customer_id)s")
SET_EMAIL = sql.SQL(f"UPDATE {TABLE} SET email = %(email)s WHERE customer_id = %(customer_id)s")
SET_BALANCE = sql.SQL(f"""
    UPDATE {TABLE} SET balance = %(active)s, pending = %(pending)s, debt = %(debt)s
    WHERE customer_id = %(customer_id)s""")
SET_LINK_VERSION = sql.SQL(
    f"UPDATE {TABLE} SET link_version = %(link_version)s WHERE customer_id = %(customer_id)s")
SET_STATUS = sql.SQL(f"""
    UPDATE {TABLE} SET status = %(status)s,
        activated_at = CASE WHEN %(status)s = 'Active' THEN %(at)s ELSE activated_at END,
        blocked_at = CASE WHEN %(status)s = 'Blocked' THEN %(at)s::timestamptz END
    WHERE customer_id = %(customer_id)s""")



def fold(event: object, _: int) -> list[Statement]:
    """The statements that bring a customer's row up to date with one event."""
    customer_id = getattr(event, "originator_id", None)
    match event:
        case CustomerCreated(programme=programme, uniq_id=uniq_id, status=status):
            return [Statement(INSERT, {
                "customer_id": customer_id, "programme": programme, "uniq_id": uniq_id,
                "status": status, "at": event.timestamp})]
        case PhoneChanged(phone=phone):
            return [Statement(SET_PHONE, {"customer_id": customer_id, "phone": phone})]
        case EmailChanged(email=email):
            return [Statement(SET_EMAIL, {"customer_id": customer_id, "email": email})]
        case Balances(active=active, pending=pending, debt=debt):
            return [Statement(SET_BALANCE, {"customer_id": customer_id, "active": active,
                                            "pending": pending, "debt": debt})]
        case CustomerActivated():
            return [Statement(SET_STATUS, {"customer_id": customer_id, "status": "Active",
                                           "at": event.timestamp})]
        case LinksRevoked(link_version=link_version):
            return [Statement(SET_LINK_VERSION, {"customer_id": customer_id,
                                                 "link_version": link_version})]
        case CustomerBlocked():
            return [Statement(SET_STATUS, {"customer_id": customer_id, "status": "Blocked",
                                           "at": event.timestamp})]
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
