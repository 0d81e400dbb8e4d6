"""The event store on PostgreSQL: eventsourcing's environment from our settings, and the one
module that reaches into eventsourcing's PostgreSQL internals.

Everything else uses the library's public API. What is here buys measured speed or does what
the public API cannot, and depends on eventsourcing 9.5.6 (pinned in constraints.txt); check it
whenever that pin moves:

- `ColumnarProcessRecorder` overrides the recorder's private `_insert_events` and
  `_insert_stored_events`: the library sends a batch as one array of a composite type, which
  psycopg dumps as text in Python at about 0.1 ms an event, the largest cost of a processor
  batch (cProfile of 500-item batches); four arrays of plain types carry the same rows in the
  same single statement, under the same table lock, with the same NOTIFY. It also records the
  positions of several Kafka partitions (`trackings=[...]`) in the transaction of the events,
  where the library takes one. `ColumnarAggregateRecorder` does the same for the snapshots'
  table, through `ColumnarFactory` (the library's factory with it as its aggregate recorder
  class): a customer's snapshot is megabytes, which the composite type has psycopg escape as
  text and PostgreSQL parse back: 150 ms to insert a 2 MB snapshot, 50 ms as a `bytea`.
- `TrackingView` is a tracking recorder whose position the caller reads and writes on its own
  transaction (the library's examples of views do this in their subclasses, through the same
  protected methods), so that rows and position are written together.
- `select_newer_events` reads the events table directly: one query brings every aggregate of a
  batch up to date (see `services.adapters.prefetch`), where the public `select_events` would
  take one query per aggregate, some 1,500 per 500-item batch. `select_latest_snapshots` reads
  the snapshots' table the same way: one query for the batch's aggregates that are not cached,
  where `repository.get` takes one per aggregate (before the events it replays).
- `select_final_notifications` reads the events table under a lock the public API does not
  take (see `services.adapters.following`).
- `tracked_names` reads the tracking table directly: the positions stored for every incarnation
  of a topic, which the public `max_tracking_id` (one exact name) cannot list.
"""

from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

import psycopg
from eventsourcing.persistence import Notification, StoredEvent, Tracking
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresDatastore,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Identifier

from services.settings import Settings

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
        "PERSISTENCE_MODULE": f"{__name__}:ColumnarFactory",
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
        "PROCESS_RECORDER_TOPIC": f"{__name__}:ColumnarProcessRecorder",
        "IS_SNAPSHOTTING_ENABLED": "y" if create_tables or settings.snapshot_interval > 0 else "n",
    }


class ColumnarAggregateRecorder(PostgresAggregateRecorder):
    """eventsourcing's PostgreSQL aggregate recorder, the snapshots' one, inserting its rows as
    four column arrays (see the module's docstring)."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.insert_events_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[])"
        ).format(schema=Identifier(datastore.schema), table=Identifier(self.events_table_name))

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        curs.execute(self.insert_events_statement, columns_of(stored_events))


class ColumnarFactory(PostgresFactory):
    """eventsourcing's PostgreSQL infrastructure, whose aggregate recorders (the snapshots')
    insert as column arrays."""

    aggregate_recorder_class = ColumnarAggregateRecorder


def columns_of(stored_events: Sequence[StoredEvent]) -> tuple[list[Any], ...]:
    """The rows of these stored events as four columns (id, version, topic, state)."""
    return ([event.originator_id for event in stored_events],
            [event.originator_version for event in stored_events],
            [event.topic for event in stored_events],
            [event.state for event in stored_events])


class ColumnarProcessRecorder(PostgresProcessRecorder):
    """eventsourcing's PostgreSQL process recorder, inserting events as four column arrays,
    with the positions of several upstream partitions at once (see the module's docstring)."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.insert_events_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(schema=Identifier(datastore.schema), table=Identifier(self.events_table_name))

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """Also records `trackings`: the positions of several partitions, in one transaction."""
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(curs, tracking=tracking)
        super()._insert_events(curs, stored_events, **kwargs)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.insert_events_statement, columns_of(stored_events))


def select_newer_events(recorder: Any, known: Mapping[UUID, int]) -> list[StoredEvent]:
    """The stored events of these aggregates after each one's known version (0: all of them),
    in (aggregate, version) order, in one query."""
    query = SQL(
        "SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {}.{} e "
        "JOIN unnest(%s::uuid[], %s::int[]) AS known(id, version) "
        "ON e.originator_id = known.id AND e.originator_version > known.version "
        "ORDER BY e.originator_id, e.originator_version"
    ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
    with (recorder.datastore.get_connection() as conn,
          conn.cursor(row_factory=tuple_row) as cursor):
        cursor.execute(query, ([str(aggregate_id) for aggregate_id in known], list(known.values())))
        return [StoredEvent(row[0], row[1], row[2], bytes(row[3])) for row in cursor.fetchall()]


def select_latest_snapshots(recorder: Any, aggregate_ids: Collection[UUID]) -> list[StoredEvent]:
    """The latest stored snapshot of each of these aggregates that has one, in one query
    (`recorder`: the snapshot store's)."""
    query = SQL(
        "SELECT s.originator_id, s.originator_version, s.topic, s.state "
        "FROM unnest(%s::uuid[]) AS wanted(id) CROSS JOIN LATERAL ("
        "SELECT originator_id, originator_version, topic, state FROM {}.{} "
        "WHERE originator_id = wanted.id ORDER BY originator_version DESC LIMIT 1) s"
    ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
    with (recorder.datastore.get_connection() as conn,
          conn.cursor(row_factory=tuple_row) as cursor):
        cursor.execute(query, ([str(aggregate_id) for aggregate_id in aggregate_ids],))
        return [StoredEvent(row[0], row[1], row[2], bytes(row[3])) for row in cursor.fetchall()]


class TrackingView(PostgresTrackingRecorder):
    """A tracking recorder (a view, in eventsourcing's terms) whose subclass writes its rows and
    its position in one transaction of its own making."""

    def position_on(self, cursor: Cursor[DictRow], name: str) -> int:
        """The position tracked under `name`, read on `cursor` (0: none yet)."""
        return self._max_tracking_id(name, cursor) or 0

    def track_on(self, cursor: Cursor[DictRow], tracking: Tracking) -> None:
        """Records a position on `cursor`, within the caller's transaction."""
        self._insert_tracking(cursor, tracking)


SHARE_LOCK_TIMEOUT_SECONDS = 30


def select_final_notifications(recorder: Any, after: int, last: int) -> list[Notification]:
    """The notifications after `after` up to `last`, read once every transaction inserting
    events has ended: an id missing from them never comes (`services.adapters.following`)."""
    table = SQL("{}.{}").format(Identifier(recorder.datastore.schema),
                                Identifier(recorder.events_table_name))
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(SQL("SET LOCAL lock_timeout = '{}s'").format(SHARE_LOCK_TIMEOUT_SECONDS))
        cursor.execute(SQL("LOCK TABLE {} IN SHARE MODE").format(table))
        cursor.execute(SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
            "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id"
        ).format(table), (after, last))
        return [Notification(id=row["notification_id"], originator_id=row["originator_id"],
                             originator_version=row["originator_version"], topic=row["topic"],
                             state=bytes(row["state"])) for row in cursor.fetchall()]


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
    """The event store on PostgreSQL (its tables are made by `loyalty prepare`)."""
    from services.adapters.event_store import EventStore

    return EventStore(env=event_store_env(settings, create_tables=create_tables),
                      snapshot_interval=settings.snapshot_interval)


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
