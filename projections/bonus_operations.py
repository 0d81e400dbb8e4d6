"""Read model `bonus_operations`: one row per operation on a customer's points (accrual,
reversal, spend, cancelled spend, expiry, activation), with every field of its event.

The row id is the event's notification id: unique, increasing with processing time and equal
in every rebuild, so it breaks ties in the keyset order (time, id) of getBonusOperationExt.
Ordered by event date, the rows without one (cancelled spends, expiries, activations) come
after every row with one, by id.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.rows import class_row

from events.customer import (
    PointsAccrued,
    PointsActivated,
    PointsExpired,
    PointsReversed,
    PointsSpent,
    SpendCancelled,
)
from events.published import event_id
from projections.folding import Change, Insert, NotificationId, StateFold, Table
from projections.schema import SCHEMA

TABLE = f"{SCHEMA}.bonus_operations"

DDL = (
    sql.SQL(f"""
    CREATE TABLE IF NOT EXISTS {TABLE} (
        id bigint PRIMARY KEY,
        programme text NOT NULL,
        uniq_id text NOT NULL,
        customer_id uuid NOT NULL,
        kind text NOT NULL,
        guid text NOT NULL,
        command_id text NOT NULL,
        amount numeric NOT NULL,
        event_id text,
        event_date timestamptz,
        event_type text,
        info text,
        operation_type text,
        operation_amount numeric,
        merchant_name text,
        bank_product text,
        mcc text,
        processed_at timestamptz NOT NULL
    )"""),
    sql.SQL(f"""CREATE INDEX IF NOT EXISTS bonus_operations_customer_time
        ON {TABLE} (programme, uniq_id, processed_at, id)"""),
    sql.SQL(f"""CREATE INDEX IF NOT EXISTS bonus_operations_processed
        ON {TABLE} (programme, processed_at, id)"""),
    sql.SQL(f"""CREATE INDEX IF NOT EXISTS bonus_operations_event_date
        ON {TABLE} (programme, event_date, id)"""),
    sql.SQL(f"CREATE INDEX IF NOT EXISTS bonus_operations_guid ON {TABLE} (guid)"),
    sql.SQL(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS related_guid text"),
    sql.SQL(f"ALTER TABLE {TABLE} ALTER COLUMN command_id DROP NOT NULL"),
)

EVENT_FIELDS = (
    "guid", "command_id", "amount", "event_id", "event_date", "event_type", "info",
    "operation_type", "operation_amount", "merchant_name", "bank_product", "mcc",
)

ROWS = Table(TABLE, ("id",), {
    "id": "bigint", "customer_id": "uuid", "processed_at": "timestamptz", "kind": "text",
    "related_guid": "text", "guid": "text", "command_id": "text", "amount": "numeric",
    "event_id": "text", "event_date": "timestamptz", "event_type": "text", "info": "text",
    "operation_type": "text", "operation_amount": "numeric", "merchant_name": "text",
    "bank_product": "text", "mcc": "text",
}, joins_customer=("programme", "uniq_id"))


FOLDED: tuple[type, ...] = (
    PointsAccrued, PointsReversed, PointsSpent, SpendCancelled, PointsExpired, PointsActivated,
)
"""The event classes (and their subclasses) `fold` turns into changes; others: none."""


STATE_FOLDS: dict[type, StateFold] = {}
"""No class of this read model is folded from its stored JSON (`projections.view`)."""


def fold(event: object, notification_id: NotificationId) -> list[Change]:
    """A bonus operation for each accrual, reversal, spend, cancelled spend, expiry and
    activation; the amount is the operation's own, positive."""
    match event:
        case PointsAccrued():
            row = {name: getattr(event, name) for name in EVENT_FIELDS}
            return [operation(event, notification_id, "accrual", None, row)]
        case PointsReversed():
            return [operation(event, notification_id, "reversal", event.original_guid, {
                "guid": event.guid, "amount": event.amount, "event_id": event.event_id,
                "event_date": event.event_date, "info": event.reason})]
        case PointsSpent():
            return [operation(event, notification_id, "spend", None, {
                "guid": event.guid, "amount": event.amount, "event_id": event.event_id,
                "event_date": event.event_date, "merchant_name": event.merchant_name,
                "info": event.info})]
        case SpendCancelled():
            return [operation(event, notification_id, "spendCancel", event.original_guid,
                              {"guid": event.guid, "amount": event.amount})]
        case PointsExpired() | PointsActivated():
            kind = "expiry" if isinstance(event, PointsExpired) else "activation"
            return [operation(event, notification_id, kind, event.lot_guid, {
                "guid": event_id(event.originator_id, event.originator_version),
                "amount": event.amount})]
    return []


def operation(event: Any, notification_id: NotificationId, kind: str, related_guid: str | None,
              fields: dict[str, Any]) -> Insert:
    """The row of one operation: the event's fields, the rest empty."""
    row = dict.fromkeys(EVENT_FIELDS) | fields
    return Insert(ROWS, row | {
        "id": notification_id, "customer_id": event.originator_id,
        "processed_at": event.timestamp, "kind": kind, "related_guid": related_guid})


TimeField = Literal["processedAt", "eventDate"]
TIME_COLUMNS: dict[str, str] = {"processedAt": "processed_at", "eventDate": "event_date"}


@dataclass(frozen=True)
class OperationFilter:
    """The filters of getBonusOperationExt, every one optional except the programme."""

    programme: str
    uniq_id: str | None = None
    kind: str | None = None
    since: datetime | None = None
    """Inclusive lower bound of the time field."""
    until: datetime | None = None
    """Exclusive upper bound of the time field."""
    time_field: TimeField = "processedAt"
    guid: str | None = None

    def where(self) -> tuple[sql.Composable, list[object]]:
        """The WHERE clause of the filter and its parameters."""
        column = sql.Identifier(TIME_COLUMNS[self.time_field])
        conditions: list[sql.Composable] = [sql.SQL("programme = %s")]
        params: list[object] = [self.programme]
        for condition, value in (
            (sql.SQL("uniq_id = %s"), self.uniq_id),
            (sql.SQL("kind = %s"), self.kind),
            (sql.SQL("guid = %s"), self.guid),
            (sql.SQL("{} >= %s").format(column), self.since),
            (sql.SQL("{} < %s").format(column), self.until),
        ):
            if value is not None:
                conditions.append(condition)
                params.append(value)
        return sql.SQL(" AND ").join(conditions), params


@dataclass(frozen=True)
class PageCursor:
    """Where a page ended: the time field, its value and the id of the last row (`at` None:
    a row without an event date, so every row with one is behind)."""

    time_field: TimeField
    at: datetime | None
    id: int

    def encode(self) -> str:
        """Opaque to clients: base64url of a small JSON array."""
        at = None if self.at is None else self.at.isoformat()
        payload = json.dumps([self.time_field, at, self.id])
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, time_field: TimeField) -> "PageCursor":
        """The cursor of `encode`; ValueError when it is malformed or of another time field."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            field, at, last_id = json.loads(raw)
            cursor = cls(field, None if at is None else datetime.fromisoformat(at),
                         int(last_id))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
            raise ValueError("malformed cursor") from error
        if cursor.time_field != time_field:
            raise ValueError("the cursor belongs to another query")
        if (cursor.at is None and time_field == "processedAt") or (
                cursor.at is not None and cursor.at.tzinfo is None):
            raise ValueError("malformed cursor")
        return cursor

    def after(self) -> tuple[sql.Composable, list[object]]:
        """The condition of the rows after this cursor in the page order: by (time, id), and
        by event date the rows without one last, by id."""
        column = sql.Identifier(TIME_COLUMNS[self.time_field])
        if self.at is None:
            return sql.SQL("{} IS NULL AND id > %s").format(column), [self.id]
        later = sql.SQL("({}, id) > (%s, %s)").format(column)
        if self.time_field == "eventDate":
            later = sql.SQL("({} OR {} IS NULL)").format(later, column)
        return later, [self.at, self.id]


@dataclass(frozen=True)
class OperationRow:
    """One bonus operation as the read model holds it."""

    id: int
    programme: str
    uniq_id: str
    customer_id: UUID
    kind: str
    guid: str
    command_id: str | None
    amount: Decimal
    event_id: str | None
    event_date: datetime | None
    event_type: str | None
    info: str | None
    operation_type: str | None
    operation_amount: Decimal | None
    merchant_name: str | None
    bank_product: str | None
    mcc: str | None
    processed_at: datetime
    related_guid: str | None


@dataclass(frozen=True)
class OperationPage:
    """One page of operations, the count and sum over the whole filter, the next cursor."""

    operations: list[OperationRow]
    count: int
    total: Decimal
    next_cursor: PageCursor | None


async def find_operations(
    conn: AsyncConnection[Any], query: OperationFilter, limit: int, after: PageCursor | None
) -> OperationPage:
    """A page of operations in (time field, id) order (by event date: the rows without one
    last, by id), after the cursor when one is given."""
    where, params = query.where()
    column = sql.Identifier(TIME_COLUMNS[query.time_field])
    page_where, page_params = where, list(params)
    if after is not None:
        later, later_params = after.after()
        page_where = sql.SQL("{} AND {}").format(where, later)
        page_params += later_params
    select = sql.SQL("SELECT * FROM {} WHERE {} ORDER BY {} NULLS LAST, id LIMIT %s").format(
        sql.SQL(TABLE), page_where, column)
    async with conn.cursor(row_factory=class_row(OperationRow)) as cursor:
        await cursor.execute(select, [*page_params, limit + 1])
        rows = await cursor.fetchall()
    totals = await conn.execute(sql.SQL(
        "SELECT count(*), coalesce(sum(amount), 0) FROM {} WHERE {}").format(
        sql.SQL(TABLE), where), params)
    count, total = await totals.fetchone() or (0, Decimal(0))
    return OperationPage(rows[:limit], count, total, next_cursor(rows, limit, query.time_field))


def next_cursor(rows: list[OperationRow], limit: int, time_field: TimeField) -> PageCursor | None:
    """The cursor after the page's last row, or None when no row follows the page."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    at = last.processed_at if time_field == "processedAt" else last.event_date
    return PageCursor(time_field, at, last.id)


SELECT_RECENT = sql.SQL(f"""
    SELECT * FROM {TABLE} WHERE programme = %s AND uniq_id = %s
    ORDER BY processed_at DESC, id DESC LIMIT %s""")


async def recent_operations(conn: AsyncConnection[Any], programme: str, uniq_id: str,
                            limit: int) -> list[OperationRow]:
    """The customer's latest operations, newest first."""
    async with conn.cursor(row_factory=class_row(OperationRow)) as cursor:
        await cursor.execute(SELECT_RECENT, (programme, uniq_id, limit))
        return await cursor.fetchall()
