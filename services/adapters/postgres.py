"""The event store on PostgreSQL: eventsourcing's environment from our settings, and the
queries that read its tables directly.

The recorders that reach into eventsourcing's internals are in
`services.adapters.eventsourcing_internals`; what is here uses the library's public attributes
(its datastore, its table names) to read its tables:

- `select_newer_events` reads the events table directly: one query brings every aggregate of a
  batch up to date (see `services.adapters.prefetch`), where the public `select_events` would
  take one query per aggregate, some 1,500 per 500-item batch. `select_latest_snapshots` reads
  the snapshots' table the same way: one query for the batch's aggregates that are not cached,
  where `repository.get` takes one per aggregate (before the events it replays).
- `select_final_notifications` reads the events table under a lock the public API does not
  take (see `services.adapters.following`).
- `select_notifications` is the library's query of the same name (the relay's and the read
  models' writer's read), in binary.
- `tracked_names` reads the tracking table directly: the positions stored for every incarnation
  of a topic, which the public `max_tracking_id` (one exact name) cannot list.

Arrays of ids go as binary parameters (`%b`) of `UUID`s: psycopg quotes a text array element by
element in Python, 5.4 ms for the 1,750 ids and versions of a 500-item batch against 0.75 ms in
binary (about 9 us per item, some 4 % of the processor's CPU). Events are read back in binary
too, as tuples: PostgreSQL sends a `bytea` as hex text otherwise, which psycopg decodes back to
bytes, and dictionaries per row cost more still; 1,000 notifications take 2.6 ms so, 6.4 ms as
the library reads them, and each event is read by the relay and the read models' writer.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

import psycopg
import structlog
from eventsourcing.persistence import (
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from services.settings import Settings

log = structlog.get_logger(__name__)

INTERNALS = "services.adapters.eventsourcing_internals"
CONNECT_TIMEOUT_SECONDS = 5
"""How long a connection (new, or from the pool) is waited for. The library tries each
statement ten times, so a database that went away is reported (and waited for with backoff,
loudly) after some 50 s; with the library's default of 30 s it was five silent minutes."""


def event_store_env(settings: Settings, *, create_tables: bool = False) -> dict[str, str]:
    """The eventsourcing environment for `settings.postgres_dsn` (PostgreSQL persistence).

    Tables are created by `loyalty prepare` alone (`create_tables=True`): services that
    started together and each ran the library's DDL would race on it. It creates the
    snapshots' table too, so that snapshots can be turned on later without it.
    """
    dsn = urlsplit(settings.postgres_dsn)
    return {
        "PERSISTENCE_MODULE": f"{INTERNALS}:ColumnarFactory",
        "POSTGRES_DBNAME": dsn.path.lstrip("/") or "loyalty",
        "POSTGRES_HOST": dsn.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(dsn.port or 5432),
        "POSTGRES_USER": unquote(dsn.username or "loyalty"),
        "POSTGRES_PASSWORD": unquote(dsn.password or ""),
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT_SECONDS),
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
        "CREATE_TABLE": "y" if create_tables else "n",
        "PROCESS_RECORDER_TOPIC": f"{INTERNALS}:ColumnarProcessRecorder",
        "IS_SNAPSHOTTING_ENABLED": "y" if create_tables or settings.snapshot_interval > 0 else "n",
    }


def events_table(recorder: Any) -> Composed:
    """The schema-qualified table of a recorder's events (or snapshots)."""
    return SQL("{}.{}").format(Identifier(recorder.datastore.schema),
                               Identifier(recorder.events_table_name))


NOTIFICATION_COLUMNS = SQL("notification_id, originator_id, originator_version, topic, state")
"""The columns of a notification, in the order `notifications` reads them."""


def newer_events_query(recorder: Any) -> Composed:
    """The query of `select_newer_events` (parameters: the aggregates' ids, their versions).

    Each aggregate is looked up on its own in the primary key: the planner never flattens a
    subquery with an `ORDER BY` into the join, so the `LATERAL` one runs once per aggregate and
    reads only that aggregate's rows, however large the table and on any realistic estimate
    (only statistics saying the whole table is one aggregate make it scan). Written as a
    plain join, it was planned on the statistics of the moment: on a guess of how many events
    an id has (up to a hundred times the truth, on a table that grew since its last `ANALYZE`)
    it sorted the whole table in parallel for every batch, and on true statistics it hashed
    it: PostgreSQL's CPU per item doubled in such runs (docs/benchmarks.md).
    """
    return SQL(
        "SELECT e.originator_id, e.originator_version, e.topic, e.state "
        "FROM unnest(%b::uuid[], %b::int[]) AS known(id, version) CROSS JOIN LATERAL ("
        "SELECT originator_id, originator_version, topic, state FROM {} "
        "WHERE originator_id = known.id AND originator_version > known.version "
        "ORDER BY originator_version) e "
        "ORDER BY e.originator_id, e.originator_version"
    ).format(events_table(recorder))


def select_newer_events(recorder: Any, known: Mapping[UUID, int]) -> list[StoredEvent]:
    """The stored events of these aggregates after each one's known version (0: all of them),
    in (aggregate, version) order, in one query."""
    with (recorder.datastore.get_connection() as conn,
          conn.cursor(row_factory=tuple_row, binary=True) as cursor):
        cursor.execute(newer_events_query(recorder), (list(known), list(known.values())))
        return [StoredEvent(row[0], row[1], row[2], bytes(row[3])) for row in cursor.fetchall()]


def select_latest_snapshots(recorder: Any, aggregate_ids: Collection[UUID]) -> list[StoredEvent]:
    """The latest stored snapshot of each of these aggregates that has one, in one query
    (`recorder`: the snapshot store's)."""
    query = SQL(
        "SELECT s.originator_id, s.originator_version, s.topic, s.state "
        "FROM unnest(%b::uuid[]) AS wanted(id) CROSS JOIN LATERAL ("
        "SELECT originator_id, originator_version, topic, state FROM {} "
        "WHERE originator_id = wanted.id ORDER BY originator_version DESC LIMIT 1) s"
    ).format(events_table(recorder))
    with (recorder.datastore.get_connection() as conn,
          conn.cursor(row_factory=tuple_row, binary=True) as cursor):
        cursor.execute(query, (list(aggregate_ids),))
        return [StoredEvent(row[0], row[1], row[2], bytes(row[3])) for row in cursor.fetchall()]


SHARE_LOCK_TIMEOUT_SECONDS = 30


def select_final_notifications(recorder: Any, after: int, last: int) -> list[Notification]:
    """The notifications after `after` up to `last`, read once every transaction inserting
    events has ended: an id missing from them never comes (`services.adapters.following`)."""
    table = events_table(recorder)
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(SQL("SET LOCAL lock_timeout = '{}s'").format(SHARE_LOCK_TIMEOUT_SECONDS))
        cursor.execute(SQL("LOCK TABLE {} IN SHARE MODE").format(table))
        with cursor.connection.cursor(row_factory=tuple_row, binary=True) as rows:
            rows.execute(SQL(
                "SELECT {} FROM {} WHERE notification_id > %s AND notification_id <= %s "
                "ORDER BY notification_id").format(NOTIFICATION_COLUMNS, table), (after, last))
            return notifications(rows.fetchall())


@retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
def select_notifications(recorder: Any, after: int, limit: int, last: int | None = None,
                         topics: Sequence[str] = ()) -> list[Notification]:
    """At most `limit` notifications after `after` (up to `last`; of these topics only), in
    order: what the library's `select_notifications` returns, as binary rows, tried again as
    it is when a pooled connection turns out broken (a read: safe to repeat)."""
    conditions = [SQL("notification_id > %s")]
    params: list[Any] = [after]
    if last is not None:
        conditions.append(SQL("notification_id <= %s"))
        params.append(last)
    if topics:
        conditions.append(SQL("topic = ANY(%s)"))
        params.append(list(topics))
    query = SQL("SELECT {} FROM {} WHERE {} ORDER BY notification_id LIMIT %s").format(
        NOTIFICATION_COLUMNS, events_table(recorder), SQL(" AND ").join(conditions))
    with (recorder.datastore.get_connection() as conn,
          conn.cursor(row_factory=tuple_row, binary=True) as cursor):
        cursor.execute(query, (*params, limit))
        return notifications(cursor.fetchall())


def notifications(rows: Iterable[tuple[Any, ...]]) -> list[Notification]:
    """Notifications of rows (id, originator, version, topic, state)."""
    return [Notification(id=row[0], originator_id=row[1], originator_version=row[2],
                         topic=row[3], state=bytes(row[4])) for row in rows]


def tracked_names(recorder: Any, prefix: str) -> dict[str, int]:
    """Every tracking name starting with `prefix` and its position, in one query."""
    query = SQL("SELECT application_name, max(notification_id) FROM {}.{} "
                "WHERE starts_with(application_name, %s) GROUP BY application_name").format(
        Identifier(recorder.datastore.schema), Identifier(recorder.tracking_table_name))
    with (recorder.datastore.get_connection() as conn,
          conn.cursor(row_factory=tuple_row) as cursor):
        cursor.execute(query, (prefix,))
        return {name: int(position) for name, position in cursor.fetchall()}


def postgres_event_store(settings: Settings, *, create_tables: bool = False) -> Any:
    """The event store on PostgreSQL (its tables, the data keys' among them, are made by
    `loyalty prepare`), sealing personal data with keys wrapped by the settings' master key.
    The store's index key names the phone and e-mail indexes (`services.domain.ids`) from
    now on."""
    from services.adapters.event_store import EventStore
    from services.adapters.personal_data import (
        KEYS_DDL,
        KeyRing,
        MasterKeys,
        PostgresKeys,
        index_key,
    )
    from services.domain import ids

    keys, masters = PostgresKeys(settings.postgres_dsn), MasterKeys(settings.master_keys())
    if create_tables:
        with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
            for statement in KEYS_DDL:
                conn.execute(statement)
            with conn.cursor() as cursor:
                ids.use_index_key(index_key(keys, masters, cursor))
    else:
        try:
            ids.use_index_key(index_key(keys, masters))
        except (LookupError, psycopg.Error) as error:
            log.warning("no index key yet: phones and e-mails cannot be looked up until "
                        "`loyalty prepare` made it", error=str(error))
    return EventStore(env=event_store_env(settings, create_tables=create_tables),
                      snapshot_interval=settings.snapshot_interval,
                      keyring=KeyRing(keys, masters))


SERVICE_SCHEMAS = ("public", "read_models")


def role_of(dsn: str) -> str:
    """The role a DSN connects as."""
    return unquote(urlsplit(dsn).username or "")


def grant_to_services(owner_dsn: str, service_role: str) -> None:
    """Lets the services' role read and write the rows of every table (and use the sequences)
    of the event store and the read models, now and for tables the owner creates later; it
    owns nothing and can create or drop nothing."""
    role = Identifier(service_role)
    schemas = SQL(", ").join(Identifier(schema) for schema in SERVICE_SCHEMAS)
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        for statement in (
            "GRANT USAGE ON SCHEMA {schemas} TO {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schemas} TO {role}",
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schemas} TO {role}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schemas} "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schemas} GRANT USAGE, SELECT ON SEQUENCES "
            "TO {role}",
        ):
            conn.execute(SQL(statement).format(schemas=schemas, role=role))
