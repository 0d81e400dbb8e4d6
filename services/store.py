"""Where the event store lives: eventsourcing's PostgreSQL environment from our settings."""

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from services.settings import Settings


def event_store_env(settings: Settings, *, create_tables: bool = False) -> dict[str, str]:
    """The eventsourcing environment for `settings.postgres_dsn` (PostgreSQL persistence).

    Tables are created by `loyalty prepare` alone (`create_tables=True`): services that
    started together and each ran the library's DDL would race on it.
    """
    dsn = urlsplit(settings.postgres_dsn)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dsn.path.lstrip("/") or "loyalty",
        "POSTGRES_HOST": dsn.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(dsn.port or 5432),
        "POSTGRES_USER": unquote(dsn.username or "loyalty"),
        "POSTGRES_PASSWORD": unquote(dsn.password or ""),
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
        "CREATE_TABLE": "y" if create_tables else "n",
        "PROCESS_RECORDER_TOPIC": "services.store:ColumnarProcessRecorder",
    }


class ColumnarProcessRecorder(PostgresProcessRecorder):
    """eventsourcing's PostgreSQL process recorder, inserting events as four column arrays,
    with the positions of several upstream partitions at once.

    The library sends a batch as one array of a composite type, which psycopg dumps as text
    in Python, about 0.1 ms an event: the largest cost of a processor batch. Four arrays of
    plain types (binary parameters) carry the same rows in the same single statement, under
    the same table lock, with the same NOTIFY and the same returned notification ids.
    """

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
        curs.execute(self.insert_events_statement, (
            [event.originator_id for event in stored_events],
            [event.originator_version for event in stored_events],
            [event.topic for event in stored_events],
            [event.state for event in stored_events],
        ))
