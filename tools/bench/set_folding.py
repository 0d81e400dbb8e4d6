"""Set-based folding measured per read model: the writer's Python path against SQL over the
stored JSON, on the events of a kept bench database.

    loyalty bench --items 20000 --keep          # names the database it keeps, and its key
    LOYALTY_MASTER_KEY=... python -m tools.bench.set_folding --dsn postgresql://.../loyalty_bench_...

For each read model that can be filled from the stored JSON (no sealed field; the operations
copy the programme and uniqId from the customers' rows, as the writer's statement does), the
events it folds are taken in steps of the writer's size (1,000 notifications), and the model's
rows are written twice, each time into its emptied table in a transaction that is rolled back:
- **Python**: the writer's own path. Decoding each event (the mapper, with its data keys),
  folding it with the model's `fold`, merging the rows and sending the statements
  (`projections.folding.Batch`); the client's CPU time and PostgreSQL's time (the statements'
  wall time less the client's CPU while they ran) are reported apart.
- **SQL**: one `INSERT ... SELECT` per step over `convert_from(state, 'UTF8')::jsonb`,
  taking the same columns as the fold does; only PostgreSQL's time counts.

Decoding is counted whole on the Python side: a writer folding set-based would still decode an
event that another Python fold needs (an accrual's balance goes to `customers`), so for
`lots` and `bonus_operations` the saving is at most the fold, merge and send.
"""

import argparse
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic
from psycopg import sql

from events.customer import PointsAccrued
from events.outcomes import ItemProcessed
from projections import bonus_operations, item_outcomes, lots
from projections.customers import TABLE as CUSTOMERS
from projections.folding import Batch
from projections.view import state_fold_of
from projections.writer import folded_from_state
from services.adapters.personal_data import domain_events
from services.adapters.postgres import events_table, select_notifications
from services.contract.mapping import ERROR_OBJECTS
from services.settings import Settings

STEP = 1000
"""Notifications per step, as the read models' writer reads them."""

STATE = "convert_from(e.state, 'UTF8')::jsonb"
"""Parsed once per row: `OFFSET 0` (or a CTE used twice) keeps PostgreSQL from inlining the
subquery, which would parse the JSON again for every column taken from it."""
DECIMAL = "(s -> '{name}' ->> '_data_')::numeric"
INSTANT = "(s -> '{name}' ->> '_data_')::timestamptz"


def _decimal(name: str) -> str:
    return DECIMAL.format(name=name)


def _instant(name: str) -> str:
    return INSTANT.format(name=name)


LOTS = f"""
    INSERT INTO {lots.TABLE} (customer_id, lot_guid, amount, remaining, state, available_from,
                              expires_at, expires_on)
    SELECT originator_id, s ->> 'guid', {_decimal('amount')}, {_decimal('amount')},
        CASE WHEN (s ->> 'available')::boolean THEN 'active' ELSE 'pending' END,
        {_instant('available_from')}, {_instant('expires_at')},
        left(s -> 'expires_at' ->> '_data_', 10)::date
    FROM (SELECT e.originator_id, {STATE} AS s FROM {{events}} e
          WHERE e.topic = %(topic)s AND e.notification_id BETWEEN %(low)s AND %(high)s
          OFFSET 0) AS v"""

OPERATIONS = f"""
    INSERT INTO {bonus_operations.TABLE} (id, customer_id, programme, uniq_id, processed_at,
        kind, related_guid, guid, command_id, amount, event_id, event_date, event_type, info,
        operation_type, operation_amount, merchant_name, bank_product, mcc)
    SELECT v.notification_id, v.originator_id, c.programme, c.uniq_id, {_instant('timestamp')},
        'accrual', NULL, s ->> 'guid', s ->> 'command_id', {_decimal('amount')},
        s ->> 'event_id', {_instant('event_date')}, s ->> 'event_type', s ->> 'info',
        s ->> 'operation_type', {_decimal('operation_amount')}, s ->> 'merchant_name',
        s ->> 'bank_product', s ->> 'mcc'
    FROM (SELECT e.notification_id, e.originator_id, {STATE} AS s FROM {{events}} e
          WHERE e.topic = %(topic)s AND e.notification_id BETWEEN %(low)s AND %(high)s
          OFFSET 0) AS v
    JOIN {CUSTOMERS} c ON c.customer_id = v.originator_id"""

OUTCOMES = f"""
    WITH v AS (
        SELECT e.originator_id, {STATE} AS s FROM {{events}} e
        WHERE e.topic = %(topic)s AND e.notification_id BETWEEN %(low)s AND %(high)s),
    done AS (
        INSERT INTO {item_outcomes.TABLE} (outcome_id, programme, guid, status, error_code,
            error_message, error_field, login, command_id, type_of_command, processed_at,
            messages)
        SELECT originator_id, s ->> 'programme', s ->> 'guid', s ->> 'status',
            s ->> 'error_code', errors.message, errors.field, s ->> 'login', s ->> 'command_id',
            s ->> 'type_of_command', {_instant('timestamp')}, NULL
        FROM v LEFT JOIN unnest(%(codes)s::text[], %(messages)s::text[], %(fields)s::text[])
            AS errors(code, message, field) ON errors.code = s ->> 'error_code'
        WHERE jsonb_typeof(s -> 'messages') IS DISTINCT FROM 'array')
    DELETE FROM {item_outcomes.PENDING_TABLE} p USING v
    WHERE (p.programme, p.guid) = (v.s ->> 'programme', v.s ->> 'guid')"""
"""An outcome that showed messages has sealed texts: such rows stay in Python (the bench's
workload has no logins, so none here)."""


@dataclass(frozen=True)
class Model:
    """A read model, the events it is measured on, and its statement over their JSON."""

    name: str
    table: str
    event_class: type
    fold: Callable[[Any, Any], list[Any]]
    statement: str
    compared: str = "true"
    """Which of the fold's rows the statement is meant to write as well."""


MODELS = (
    Model("lots", lots.TABLE, PointsAccrued, lots.fold, LOTS),
    Model("bonus_operations", bonus_operations.TABLE, PointsAccrued, bonus_operations.fold,
          OPERATIONS),
    Model("item_outcomes", item_outcomes.TABLE, ItemProcessed, item_outcomes.fold, OUTCOMES,
          compared="messages IS NULL"),
)


@dataclass
class Timing:
    """One path's time over a model's events, in seconds, by part (`server`: PostgreSQL's)."""

    events: int = 0
    decode: float = 0.0
    fold: float = 0.0
    client: float = 0.0
    server: float = 0.0

    def per_event(self, seconds: float) -> float:
        """Microseconds per event."""
        return seconds * 1e6 / max(self.events, 1)


def steps(recorder: Any, topic: str) -> Iterator[tuple[int, int, list[Notification]]]:
    """The model's events in steps of `STEP` notifications: (low, high, notifications)."""
    head = recorder.max_notification_id() or 0
    for low in range(1, head + 1, STEP):
        high = low + STEP - 1
        yield low, high, select_notifications(recorder, low - 1, STEP, last=high,
                                              topics=[topic])


def emptied(connection: psycopg.Connection[Any], model: Model) -> None:
    """Empties the model's table (within the caller's transaction, which is rolled back)."""
    connection.execute(sql.SQL(f"DELETE FROM {model.table}"))


def rows(connection: psycopg.Connection[Any], model: Model) -> list[tuple[Any, ...]]:
    """The model's rows that both paths write, as they stand in the transaction, in a stable
    order."""
    return sorted(connection.execute(sql.SQL(
        f"SELECT * FROM {model.table} WHERE {model.compared}")).fetchall(), key=repr)


Chunks = Sequence[tuple[int, int, list[Notification]]]


def python_path(connection: psycopg.Connection[Any], mapper: Any, model: Model,
                chunks: Chunks, written: list[Any] | None = None, *,
                from_state: bool = False) -> Timing:
    """The writer's path over the chunks: decode, fold, merge, send; the rows it wrote are
    added to `written` (when given) before the rollback. With `from_state`, as the writer
    folds events from their stored JSON (`projections.writer.folded_from_state`), decoding
    only those it leaves; "decode" then counts the reading of the JSON too."""
    timing = Timing()
    with connection.transaction(force_rollback=True):
        emptied(connection, model)
        cursor = connection.cursor()
        for _, _, notifications in chunks:
            started = time.process_time()
            early = {notification.id: folded for notification in notifications
                     if from_state and (folded := folded_from_state(
                         mapper.transcoder.plain, notification)) is not None}
            left = [notification for notification in notifications
                    if notification.id not in early]
            decoded = dict(zip((n.id for n in left), domain_events(mapper, left), strict=True))
            folded_at = time.process_time()
            batch = Batch()
            for notification in notifications:
                batch.add(early[notification.id].changes if notification.id in early
                          else model.fold(decoded[notification.id], notification.id))
            batch.seal()
            sending, wall = time.process_time(), time.perf_counter()
            with connection.pipeline():
                batch.write(cursor)
            done, ended = time.process_time(), time.perf_counter()
            timing.events += len(notifications)
            timing.decode += folded_at - started
            timing.fold += sending - folded_at
            timing.client += done - sending
            timing.server += (ended - wall) - (done - sending)
        if written is not None:
            written.extend(rows(connection, model))
    return timing


def sql_path(connection: psycopg.Connection[Any], model: Model, events: sql.Composable,
             chunks: Chunks, written: list[Any] | None = None) -> Timing:
    """One `INSERT ... SELECT` per chunk over the stored JSON; the rows it wrote are added to
    `written` (when given) before the rollback."""
    timing = Timing()
    statement = sql.SQL(model.statement.replace("{events}", "{}")).format(events)
    errors = list(ERROR_OBJECTS.items())
    with connection.transaction(force_rollback=True):
        emptied(connection, model)
        for low, high, notifications in chunks:
            params = {"topic": get_topic(model.event_class), "low": low, "high": high,
                      "codes": [code for code, _ in errors],
                      "messages": [error["message"] for _, error in errors],
                      "fields": [error.get("field") for _, error in errors]}
            client, wall = time.process_time(), time.perf_counter()
            connection.execute(statement, params)
            timing.server += (time.perf_counter() - wall) - (time.process_time() - client)
            timing.events += len(notifications)
        if written is not None:
            written.extend(rows(connection, model))
    return timing


@dataclass(frozen=True)
class Measured:
    """A model's best time by each path, and how many of its rows both wrote alike."""

    model: Model
    python: Timing
    in_sql: Timing
    rows: int
    from_state: Timing | None = None
    """The writer's path folding from the stored JSON, for a model that does so."""


def measure(dsn: str, repeats: int) -> list[Measured]:
    """The best of `repeats` of each path, for each model; first, a check that both paths
    write the same rows (else the measurement would compare unlike work)."""
    from services.bootstrap import event_store

    store = event_store(Settings(postgres_dsn=dsn))
    try:
        return measure_on(store, dsn, repeats)
    finally:
        store.close()


def measure_on(store: Any, dsn: str, repeats: int) -> list[Measured]:
    """`measure` with the event store of the database at `dsn` (whose mapper decodes)."""
    events = events_table(store.recorder)
    results = []
    with psycopg.connect(dsn, autocommit=True) as connection:
        for model in MODELS:
            chunks = list(steps(store.recorder, get_topic(model.event_class)))
            by_python: list[Any] = []
            by_sql: list[Any] = []
            python_path(connection, store.mapper, model, chunks, by_python)
            sql_path(connection, model, events, chunks, by_sql)
            if by_python != by_sql:
                raise SystemExit(f"{model.name}: SQL over the JSON wrote other rows than the "
                                 f"fold ({len(by_sql)} against {len(by_python)})")
            python = min((python_path(connection, store.mapper, model, chunks)
                          for _ in range(repeats)),
                         key=lambda t: t.decode + t.fold + t.client + t.server)
            in_sql = min((sql_path(connection, model, events, chunks) for _ in range(repeats)),
                         key=lambda t: t.server)
            from_state = None
            if state_fold_of(get_topic(model.event_class)) is not None:
                by_state: list[Any] = []
                python_path(connection, store.mapper, model, chunks, by_state, from_state=True)
                if by_state != by_python:
                    raise SystemExit(f"{model.name}: folding from the stored JSON wrote other "
                                     "rows than folding the events")
                from_state = min((python_path(connection, store.mapper, model, chunks,
                                              from_state=True) for _ in range(repeats)),
                                 key=lambda t: t.decode + t.fold + t.client + t.server)
            results.append(Measured(model, python, in_sql, len(by_python), from_state))
    return results


def report(results: list[Measured]) -> str:
    """The figures as a Markdown table."""
    lines = ["| read model | events | Python: decode / fold and merge / send / PostgreSQL, "
             "us per event | Python in all | SQL: PostgreSQL, us per event |",
             "|---|---|---|---|---|"]
    for one in results:
        for name, python in ((one.model.name, one.python),
                             (f"{one.model.name}, from the stored JSON", one.from_state)):
            if python is None:
                continue
            parts = [python.per_event(seconds) for seconds in
                     (python.decode, python.fold, python.client, python.server)]
            lines.append(f"| {name} | {python.events:,} | "
                         + " / ".join(f"{part:.1f}" for part in parts)
                         + f" | {sum(parts):.1f} | {one.in_sql.per_event(one.in_sql.server):.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.set_folding",
        description="Measures each read model's fold in Python against SQL over the stored "
                    "JSON, on a kept bench database (loyalty bench --keep). Writes nothing: "
                    "every write is rolled back.")
    parser.add_argument("--dsn", required=True,
                        help="the kept bench database (the services' role is enough)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each path; the best "
                        "counts (default 5)")
    options = parser.parse_args(argv)
    print(report(measure(options.dsn, options.repeats)))


if __name__ == "__main__":
    main()
