"""Read model `messages`: the information messages queued for customers and the shows left."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

from events.customer import CustomerErased, MessageQueued, MessageShown
from projections.customers import TABLE as CUSTOMERS
from projections.folding import Change, Insert, StateFold, Statement, Table, Update
from projections.schema import SCHEMA

TABLE = f"{SCHEMA}.messages"

DDL = (
    sql.SQL(f"""
    CREATE TABLE IF NOT EXISTS {TABLE} (
        message_id text PRIMARY KEY,
        programme text NOT NULL,
        uniq_id text NOT NULL,
        guid text,
        text text NOT NULL,
        shows_left integer NOT NULL,
        show_till timestamptz,
        queued_at timestamptz NOT NULL
    )"""),
    sql.SQL(f"""CREATE INDEX IF NOT EXISTS messages_customer
        ON {TABLE} (programme, uniq_id, queued_at)"""),
)

ROWS = Table(TABLE, ("message_id",), {
    "message_id": "text", "customer_id": "uuid", "guid": "text", "text": "text",
    "shows_left": "integer", "show_till": "timestamptz", "queued_at": "timestamptz",
}, joins_customer=("programme", "uniq_id"), unstored=("customer_id",))


ERASED = sql.SQL(f"""
    DELETE FROM {TABLE} WHERE (programme, uniq_id) =
        (SELECT programme, uniq_id FROM {CUSTOMERS} WHERE customer_id = %(customer_id)s)""")
"""An erased customer's messages go, shown or not."""

FOLDED: tuple[type, ...] = (
    MessageQueued, MessageShown, CustomerErased,
)
"""The event classes (and their subclasses) `fold` turns into changes; others: none."""


STATE_FOLDS: dict[type, StateFold] = {}
"""No class of this read model is folded from its stored JSON (`projections.view`)."""


def fold(event: object, _: object) -> list[Change]:
    """MessageQueued: a message with all its shows left; MessageShown: one show fewer."""
    match event:
        case MessageQueued():
            return [Insert(ROWS, {
                "message_id": event.message_id, "guid": event.guid, "text": event.text,
                "shows_left": event.show_count, "show_till": event.show_till,
                "queued_at": event.timestamp, "customer_id": event.originator_id})]
        case MessageShown(message_id=message_id, shows_left=shows_left):
            return [Update(ROWS, (message_id,), {"shows_left": shows_left})]
        case CustomerErased():
            return [Statement(ERASED, {"customer_id": event.originator_id})]
    return []


@dataclass(frozen=True)
class MessageRow:
    """One message as the read model holds it."""

    message_id: str
    text: str
    shows_left: int
    show_till: datetime | None


SELECT_FOR_CUSTOMER = sql.SQL(f"""
    SELECT message_id, text, shows_left, show_till FROM {TABLE}
    WHERE programme = %s AND uniq_id = %s ORDER BY queued_at, message_id""")


async def find_messages(
    conn: AsyncConnection[Any], programme: str, uniq_id: str
) -> list[MessageRow]:
    """The messages of one customer, oldest first (shown or not)."""
    async with conn.cursor(row_factory=class_row(MessageRow)) as cursor:
        await cursor.execute(SELECT_FOR_CUSTOMER, (programme, uniq_id))
        return await cursor.fetchall()
