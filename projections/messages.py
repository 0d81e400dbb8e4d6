"""Read model `messages`: the information messages queued for customers and the shows left."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

from events.customer import MessageQueued, MessageShown
from projections.folding import Statement
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

INSERT = sql.SQL(f"""
    INSERT INTO {TABLE} (message_id, programme, uniq_id, guid, text, shows_left, show_till,
        queued_at)
    SELECT %(message_id)s, c.programme, c.uniq_id, %(guid)s, %(text)s, %(show_count)s,
        %(show_till)s, %(at)s
    FROM {SCHEMA}.customers c WHERE c.customer_id = %(customer_id)s""")
SHOWN = sql.SQL(
    f"UPDATE {TABLE} SET shows_left = %(shows_left)s WHERE message_id = %(message_id)s"
)



def fold(event: object, _: int) -> list[Statement]:
    """MessageQueued: a message with all its shows left; MessageShown: one show fewer."""
    match event:
        case MessageQueued():
            return [Statement(INSERT, {
                "message_id": event.message_id, "guid": event.guid, "text": event.text,
                "show_count": event.show_count, "show_till": event.show_till,
                "at": event.timestamp, "customer_id": event.originator_id})]
        case MessageShown(message_id=message_id, shows_left=shows_left):
            return [Statement(SHOWN, {"message_id": message_id, "shows_left": shows_left})]
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
