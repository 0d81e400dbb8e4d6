"""Read model `item_outcomes`: guid -> pending, or the final Success / Error of stage 2.

Final outcomes are folded from the ItemOutcome events (ItemProcessed; GuidReused counts later
attempts to reuse the guid with other content, without changing the item's own outcome).
An `ItemProcessed` of the current version that showed no messages (nearly every one) is folded
from its stored JSON as it is (`fold_state`), without building the event or its result: 7.0 us
an event against 17.5 decoded and folded whole, for the same changes as `fold` (held equal by
tests/unit/test_item_outcomes_state.py; `loyalty projections verify` folds every event whole,
so it compares the rows written so with `fold`'s).

Pending items come from outside the event store: the stage-1 validation results on Kafka
(`projections.pending`). They live in a table of their own, which a rebuild keeps, and a query
prefers the final outcome whenever one exists, so a pending row can never hide a final status,
whatever the order in which the two arrive.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from events.customer import CustomerErased
from events.outcomes import GuidReused, ItemProcessed
from projections.customers import TABLE as CUSTOMERS
from projections.folding import Change, Delete, Insert, StateFold, Statement, Table
from projections.schema import SCHEMA
from services.contract.mapping import ERROR_OBJECTS, result_of
from services.domain.outcomes import answer_of

TABLE = f"{SCHEMA}.item_outcomes"
PENDING_TABLE = f"{SCHEMA}.pending_items"
PENDING = "pending"

DDL = (
    sql.SQL(f"""
    CREATE TABLE IF NOT EXISTS {TABLE} (
        outcome_id uuid PRIMARY KEY,
        programme text NOT NULL,
        guid text NOT NULL,
        status text NOT NULL,
        error_code text,
        error_message text,
        error_field text,
        login text,
        command_id text,
        type_of_command text,
        processed_at timestamptz NOT NULL,
        reuses integer NOT NULL DEFAULT 0,
        messages jsonb,
        UNIQUE (programme, guid)
    )"""),
    sql.SQL(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS messages jsonb"),
)

PENDING_DDL = (
    sql.SQL(f"""
    CREATE TABLE IF NOT EXISTS {PENDING_TABLE} (
        programme text NOT NULL,
        guid text NOT NULL,
        login text,
        command_id text NOT NULL,
        accepted_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (programme, guid)
    )"""),
)

ROWS = Table(TABLE, ("outcome_id",), {
    "outcome_id": "uuid", "programme": "text", "guid": "text", "status": "text",
    "error_code": "text", "error_message": "text", "error_field": "text", "login": "text",
    "command_id": "text", "type_of_command": "text", "processed_at": "timestamptz",
    "messages": "jsonb",
})
PENDING_ROWS = Table(PENDING_TABLE, ("programme", "guid"), {"programme": "text", "guid": "text"})
REUSED = sql.SQL(
    f"UPDATE {TABLE} SET reuses = reuses + 1 WHERE outcome_id = %(outcome_id)s"
)


ERASED = sql.SQL(f"""
    UPDATE {TABLE} SET messages = (
        SELECT jsonb_agg(jsonb_set(shown, '{{text}}', 'null'::jsonb) ORDER BY n)
        FROM jsonb_array_elements(messages) WITH ORDINALITY AS m(shown, n))
    WHERE (programme, login) =
        (SELECT programme, uniq_id FROM {CUSTOMERS} WHERE customer_id = %(customer_id)s)
      AND jsonb_typeof(messages) = 'array' AND jsonb_array_length(messages) > 0""")
"""An erased customer's login results keep which messages were shown, not their texts."""

FOLDED: tuple[type, ...] = (
    ItemProcessed, GuidReused, CustomerErased,
)
"""The event classes (and their subclasses) `fold` turns into changes; others: none."""


def fold(event: object, _: object) -> list[Change]:
    """ItemProcessed: the item's final outcome, no longer pending; GuidReused: another item
    came with this guid and other content, and was refused."""
    match event:
        case ItemProcessed():
            result = result_of(answer_of(event))
            error = result.error
            row = {
                "outcome_id": event.originator_id, "programme": event.programme,
                "guid": event.guid, "status": result.status,
                "error_code": None if error is None else error.code.value,
                "error_message": None if error is None else error.message,
                "error_field": None if error is None else error.field,
                "login": result.login, "command_id": result.command_id,
                "type_of_command": result.type_of_command, "processed_at": event.timestamp,
                "messages": None if result.messages is None else Jsonb(
                    [m.model_dump(mode="json", by_alias=True) for m in result.messages]),
            }
            return [Insert(ROWS, row), Delete(PENDING_ROWS, (event.programme, event.guid))]
        case GuidReused():
            return [Statement(REUSED, {"outcome_id": event.originator_id})]
        case CustomerErased():
            return [Statement(ERASED, {"customer_id": event.originator_id})]
    return []


TEXTS = ("programme", "guid", "login", "command_id", "type_of_command", "timestamp")
"""What a current `ItemProcessed`'s stored state holds as text (the time in ISO 8601)."""


def fold_state(outcome_id: UUID, state: Mapping[str, Any]) -> list[Change] | None:
    """`fold` of an `ItemProcessed` of the current version from its stored state as JSON
    carries it (`CompiledJSONTranscoder.plain`: date-times as ISO text), or None when that
    needs the event: messages shown, whose texts are sealed with the customer's key."""
    if state["messages"] is not None or not all(
            type(state[name]) is str for name in TEXTS):
        return None  # anything but what the event's own fold would accept: decoded, and
        # folded or quarantined with its error
    code = state["error_code"]
    error = None if code is None else ERROR_OBJECTS[code]
    programme, guid = state["programme"], state["guid"]
    row = {
        "outcome_id": outcome_id, "programme": programme, "guid": guid,
        "status": "Success" if error is None else "Error", "error_code": code,
        "error_message": None if error is None else error["message"],
        "error_field": None if error is None else error["field"],
        "login": state["login"], "command_id": state["command_id"],
        "type_of_command": state["type_of_command"],
        "processed_at": datetime.fromisoformat(state["timestamp"]), "messages": None,
    }
    return [Insert(ROWS, row), Delete(PENDING_ROWS, (programme, guid))]


STATE_FOLDS: dict[type, StateFold] = {ItemProcessed: fold_state}
"""The classes this read model also folds from their stored JSON (`fold_state`)."""


INSERT_PENDING = sql.SQL(f"""
    INSERT INTO {PENDING_TABLE} (programme, guid, login, command_id)
    SELECT DISTINCT ON (v.programme, v.guid) v.programme, v.guid, v.login, v.command_id
    FROM unnest(%(programme)b::text[], %(guid)b::text[], %(login)b::text[],
                %(command_id)b::text[]) AS v(programme, guid, login, command_id)
    WHERE NOT EXISTS (
        SELECT 1 FROM {TABLE} o WHERE o.programme = v.programme AND o.guid = v.guid)
    ON CONFLICT DO NOTHING""")


@dataclass(frozen=True)
class PendingItem:
    """An item accepted by stage 1 and not yet known to be processed."""

    programme: str
    guid: str
    login: str | None
    command_id: str


def pending_statement(items: list[PendingItem]) -> Statement:
    """The idempotent insert of these pending items (none that is already final)."""
    return Statement(INSERT_PENDING, {
        "programme": [item.programme for item in items],
        "guid": [item.guid for item in items],
        "login": [item.login for item in items],
        "command_id": [item.command_id for item in items],
    })


@dataclass(frozen=True)
class OutcomeRow:
    """An item's outcome: pending, or the final status with its error."""

    guid: str
    status: str
    error_code: str | None
    error_message: str | None
    error_field: str | None
    login: str | None
    command_id: str | None
    processed_at: datetime | None
    reuses: int
    messages: list[dict[str, Any]] | None


SELECT_ONE = sql.SQL(f"""
    SELECT guid, status, error_code, error_message, error_field, login, command_id,
        processed_at, reuses, messages
    FROM (
        SELECT 0 AS rank, guid, status, error_code, error_message, error_field, login,
            command_id, processed_at, reuses, messages
        FROM {TABLE} WHERE programme = %(programme)s AND guid = %(guid)s
        UNION ALL
        SELECT 1, guid, '{PENDING}', NULL, NULL, NULL, login, command_id, NULL, 0, NULL
        FROM {PENDING_TABLE} WHERE programme = %(programme)s AND guid = %(guid)s
    ) AS known ORDER BY rank LIMIT 1""")


async def find_outcome(
    conn: AsyncConnection[Any], programme: str, guid: str
) -> OutcomeRow | None:
    """The outcome of the item with this guid in this programme, or None when unknown."""
    async with conn.cursor(row_factory=class_row(OutcomeRow)) as cursor:
        await cursor.execute(SELECT_ONE, {"programme": programme, "guid": guid})
        return await cursor.fetchone()


async def count_outcomes(conn: AsyncConnection[Any]) -> dict[str, int]:
    """Stage-2 outcomes by status."""
    cursor = await conn.execute(sql.SQL(f"SELECT status, count(*) FROM {TABLE} GROUP BY 1"))
    return dict(await cursor.fetchall())
