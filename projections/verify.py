"""`loyalty projections verify`: every read-model row compared with a fold of the event store.

The aggregates in scope (customers and item outcomes) are verified a chunk at a time, each chunk
in one transaction that is rolled back at the end and holds the read models' write lock, so their
writer waits for one chunk at most and never interleaves:

1. the read models' position P is read (every event up to P is in them, or quarantined);
2. the chunk's rows of every read model (customers, lots, bonus operations, messages, item
   outcomes; balances, pending points and debt are columns of the customers' rows) are read
   and deleted;
3. the chunk's events up to P are folded again, by the same folds, into the emptied tables;
4. the rows folded now and the rows read before are compared: a row that differs, one the
   read models lack and one they have that the store does not explain are each a difference.

Events quarantined by the writer are differences too. A full verification also looks for rows
whose aggregate has no event at all. Nothing is changed (the transaction is rolled back); the
result is recorded in `read_models.verifications`, which `/healthz` reports.
"""

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from psycopg import sql

from projections import bonus_operations, customers, item_outcomes, lots, messages
from projections.schema import APPLICATION_NAME, QUARANTINE, VERIFICATIONS
from projections.view import POSITION_LOCK, POSITION_LOCK_KEY, Folded, write_changes
from projections.writer import ReadModelWriter, folded_topic
from services.domain import ids

CHUNK = 200
"""Aggregates verified per transaction."""


@dataclass(frozen=True)
class Scope:
    """What to verify: everything, or a programme, a customer, or what changed since then."""

    programme: str | None = None
    customer: str | None = None
    since: datetime | None = None

    def describe(self) -> str:
        parts = [f"programme={self.programme}" if self.programme else "",
                 f"customer={self.customer}" if self.customer else "",
                 f"since={self.since.isoformat()}" if self.since else ""]
        return " ".join(part for part in parts if part) or "all"

    @property
    def whole(self) -> bool:
        return self.programme is None and self.customer is None and self.since is None


@dataclass(frozen=True)
class Difference:
    """One row (or one event) where the read models and the event store disagree."""

    table: str
    key: str
    what: str

    def __str__(self) -> str:
        return f"{self.table} {self.key}: {self.what}"


@dataclass
class Report:
    """What a verification found."""

    scope: Scope
    position: int = 0
    aggregates: int = 0
    differences: list[Difference] = field(default_factory=list)
    quarantined: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences


@dataclass(frozen=True)
class Owned:
    """A read-model table and how to find the rows of a chunk's aggregates in it."""

    name: str
    key: tuple[str, ...]
    owner: str
    """The column naming the aggregate (customer or outcome id); messages have none."""


OWNED = (
    Owned(customers.TABLE, ("customer_id",), "customer_id"),
    Owned(lots.TABLE, ("customer_id", "lot_guid"), "customer_id"),
    Owned(bonus_operations.TABLE, ("id",), "customer_id"),
    Owned(messages.TABLE, ("message_id",), ""),
    Owned(item_outcomes.TABLE, ("outcome_id",), "outcome_id"),
)


def verify_read_models(writer: ReadModelWriter, scope: Scope,
                       progress: Callable[[int, int], None] | None = None) -> Report:
    """Compares the read models with the event store (`writer`'s, closed at the end) over
    `scope`; records and returns the report. `progress(done, total)` is told how many
    aggregates are done."""
    report = Report(scope)
    try:
        chosen = aggregates_in(writer, scope)
        for done, chunk in enumerate(chunks(chosen, CHUNK)):
            verify_chunk(writer, chunk, report)
            report.aggregates += len(chunk)
            if progress is not None:
                progress(min((done + 1) * CHUNK, len(chosen)), len(chosen))
        if scope.whole:
            report.differences.extend(orphans(writer))
        record(writer, report)
    finally:
        writer.close()
    return report


def chunks(items: Sequence[UUID], size: int) -> Iterator[list[UUID]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def events_table(writer: ReadModelWriter) -> sql.Composable:
    recorder: Any = writer.store.recorder
    return sql.Identifier(recorder.datastore.schema, recorder.events_table_name)


def aggregates_in(writer: ReadModelWriter, scope: Scope) -> list[UUID]:
    """The customers and item outcomes in scope, from the event store and the read models
    (an aggregate the read models know but the store does not is in scope too)."""
    if scope.customer is not None:
        return [ids.customer_id(scope.programme or "default", scope.customer)]
    state = sql.SQL("convert_from(state, 'UTF8')::jsonb")
    conditions: list[sql.Composable] = []
    params: list[Any] = []
    if scope.programme is not None:
        conditions.append(sql.SQL("originator_id IN (SELECT originator_id FROM {} WHERE "
                                  "originator_version = 1 AND {} ->> 'programme' = %s)").format(
            events_table(writer), state))
        params.append(scope.programme)
    if scope.since is not None:
        conditions.append(sql.SQL("({} -> 'timestamp' ->> '_data_')::timestamptz >= %s").format(
            state))
        params.append(scope.since)
    with writer.view.datastore.transaction(commit=False) as cursor:
        topics = [row["topic"] for row in cursor.execute(sql.SQL(
            "SELECT DISTINCT topic FROM {}").format(events_table(writer))).fetchall()
            if folded_topic(row["topic"])]
        conditions.append(sql.SQL("topic = ANY(%s)"))
        params.append(topics)
        query = sql.SQL("SELECT DISTINCT originator_id FROM {} WHERE {}").format(
            events_table(writer), sql.SQL(" AND ").join(conditions))
        found = {row["originator_id"] for row in cursor.execute(query, params).fetchall()}
        if scope.programme is not None and scope.since is None:
            for table, owner in ((customers.TABLE, "customer_id"),
                                 (item_outcomes.TABLE, "outcome_id")):
                found |= {row[owner] for row in cursor.execute(sql.SQL(
                    f"SELECT {owner} FROM {table} WHERE programme = %s"),
                    (scope.programme,)).fetchall()}
    return sorted(found, key=str)


def verify_chunk(writer: ReadModelWriter, chunk: list[UUID], report: Report) -> None:
    """Verifies one chunk of aggregates in a transaction that is rolled back."""
    with writer.view.datastore.transaction(commit=False) as cursor:
        cursor.execute(POSITION_LOCK, (POSITION_LOCK_KEY,))
        position = writer.view.position_on(cursor, APPLICATION_NAME)
        report.position = position
        events = chunk_events(writer, cursor, chunk, position)
        folded: list[Folded] = []
        # every event decoded and folded whole: rows the writer made from stored JSON
        # (`projections.view.state_fold_of`) are compared with the events' own folds
        for one in writer.fold_all(events, from_state=False):
            if isinstance(one, Folded):
                folded.append(one)
        identities = customer_identities(folded)
        held = {table.name: rows_of(cursor, table, chunk, identities) for table in OWNED}
        for table in OWNED:
            delete_rows(cursor, table, chunk, identities)
        write_changes(cursor, folded)
        for table in OWNED:
            report.differences.extend(
                compare(table, held[table.name], rows_of(cursor, table, chunk, identities)))
        for row in cursor.execute(sql.SQL(
                f"SELECT notification_id, topic, error FROM {QUARANTINE} "
                "WHERE originator_id = ANY(%s) AND notification_id <= %s ORDER BY 1"),
                ([str(aggregate) for aggregate in chunk], position)).fetchall():
            report.quarantined += 1
            report.differences.append(Difference(
                "quarantine", f"notification {row['notification_id']}",
                f"left out of the read models ({row['topic']}): {row['error']}"))


def chunk_events(writer: ReadModelWriter, cursor: Any, chunk: list[UUID],
                 position: int) -> list[Notification]:
    """The chunk's stored events up to `position`, in notification order."""
    rows = cursor.execute(sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
        "WHERE originator_id = ANY(%s) AND notification_id <= %s ORDER BY notification_id"
    ).format(events_table(writer)), (chunk, position)).fetchall()
    return [Notification(id=row["notification_id"], originator_id=row["originator_id"],
                         originator_version=row["originator_version"], topic=row["topic"],
                         state=bytes(row["state"])) for row in rows]


def customer_identities(folded: list[Folded]) -> list[tuple[str, str]]:
    """(programme, uniqId) of the chunk's customers, from their created events' rows."""
    found = []
    for one in folded:
        for change in one.changes:
            values = getattr(change, "values", None)
            table = getattr(change, "table", None)
            if table is customers.ROWS and values and "programme" in values:
                found.append((values["programme"], values["uniq_id"]))
    return found


def rows_of(cursor: Any, table: Owned, chunk: list[UUID],
            identities: list[tuple[str, str]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The chunk's rows of one table, by key."""
    query, params = _owned(table, chunk, identities, "SELECT *")
    return {tuple(row[column] for column in table.key): dict(row)
            for row in cursor.execute(query, params).fetchall()}


def delete_rows(cursor: Any, table: Owned, chunk: list[UUID],
                identities: list[tuple[str, str]]) -> None:
    query, params = _owned(table, chunk, identities, "DELETE")
    cursor.execute(query, params)


def _owned(table: Owned, chunk: list[UUID], identities: list[tuple[str, str]],
           verb: str) -> tuple[sql.Composable, Sequence[Any]]:
    if table.owner:
        return sql.SQL(f"{verb} FROM {table.name} WHERE {table.owner} = ANY(%s)"), (chunk,)
    programmes = [programme for programme, _ in identities]
    uniq_ids = [uniq_id for _, uniq_id in identities]
    return sql.SQL(f"{verb} FROM {table.name} WHERE (programme, uniq_id) IN "
                   "(SELECT * FROM unnest(%s::text[], %s::text[]))"), (programmes, uniq_ids)


def compare(table: Owned, held: dict[tuple[Any, ...], dict[str, Any]],
            folded: dict[tuple[Any, ...], dict[str, Any]]) -> list[Difference]:
    """Every difference between the rows the read models held and those folded again."""
    short = table.name.split(".")[-1]
    found = []
    for key in sorted(held.keys() | folded.keys(), key=str):
        label = "/".join(str(part) for part in key)
        if key not in held:
            found.append(Difference(short, label, "missing from the read models"))
        elif key not in folded:
            found.append(Difference(short, label, "in the read models, not in the event store"))
        else:
            for column in sorted(held[key].keys() | folded[key].keys()):
                was, should = held[key].get(column), folded[key].get(column)
                if was != should:
                    found.append(Difference(short, label, f"{column}: read models {was!r}, "
                                                          f"event store {should!r}"))
    return found


def orphans(writer: ReadModelWriter) -> list[Difference]:
    """Rows whose aggregate has no event in the store (a full verification only)."""
    found = []
    with writer.view.datastore.transaction(commit=False) as cursor:
        for table in OWNED:
            query: sql.Composable
            if not table.owner:
                query = sql.SQL(
                    f"SELECT message_id FROM {table.name} m WHERE NOT EXISTS (SELECT 1 FROM "
                    f"{customers.TABLE} c WHERE c.programme = m.programme AND "
                    "c.uniq_id = m.uniq_id)")
            else:
                query = sql.SQL(
                    f"SELECT {', '.join(table.key)} FROM {table.name} t WHERE NOT EXISTS "
                    "(SELECT 1 FROM {} e WHERE e.originator_id = t.{})").format(
                    events_table(writer), sql.Identifier(table.owner))
            for row in cursor.execute(query).fetchall():
                found.append(Difference(table.name.split(".")[-1],
                                        "/".join(str(value) for value in row.values()),
                                        "in the read models, no event in the store"))
    return found


def record(writer: ReadModelWriter, report: Report) -> None:
    """Records the verification in `read_models.verifications`."""
    with writer.view.datastore.transaction(commit=True) as cursor:
        cursor.execute(sql.SQL(
            f"INSERT INTO {VERIFICATIONS} (scope, position, aggregates, differences, "
            "quarantined) VALUES (%s, %s, %s, %s, %s)"),
            (report.scope.describe(), report.position, report.aggregates,
             len(report.differences), report.quarantined))


def report_json(report: Report) -> str:
    """The report as one JSON document."""
    return json.dumps({"scope": report.scope.describe(), "position": report.position,
                       "aggregates": report.aggregates, "ok": report.ok,
                       "quarantined": report.quarantined,
                       "differences": [vars(difference) for difference in report.differences]},
                      default=str)
