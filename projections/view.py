"""The materialised view of every read model, and the projection that folds events into it.

One view, one tracking name: every event is read once, and the rows it changes in any read
model are written in the same transaction as the tracking position. The view gathers the
changes of consecutive events in a `Batch` (merged per row, written as a few set-based
statements) and writes them together with the last event's position when `batch_size` events
have gathered or when it has reached the head of the event store, so a restart neither skips
nor doubles anything and a busy store is followed in few transactions.
"""

from typing import Any

import structlog
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg import sql

from projections import bonus_operations, customers, item_outcomes, lots, messages
from projections.folding import Batch, Change, Fold
from projections.schema import CREATE_SCHEMA, PROJECTION_NAME

log = structlog.get_logger(__name__)

READ_MODELS = (customers, bonus_operations, messages, item_outcomes, lots)
"""Customers first: the other read models copy the programme and uniqId from its rows."""

FOLDS: tuple[Fold, ...] = tuple(model.fold for model in READ_MODELS)
DDL: tuple[sql.SQL, ...] = (
    *(statement for model in READ_MODELS for statement in model.DDL),
    *item_outcomes.PENDING_DDL,
)
EVENT_TABLES = tuple(model.TABLE for model in READ_MODELS)
"""The tables built from the event store alone (a rebuild drops and refills them)."""


class ReadModelView(PostgresTrackingRecorder):
    """Read-model rows and the tracking position, written together in one transaction."""

    batch_size = 1000
    """At most this many events per transaction."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.insert(0, sql.Composed([CREATE_SCHEMA]))
        self.sql_create_statements.extend(sql.Composed([statement]) for statement in DDL)
        self.events_table: sql.Composable | None = None
        """The event store's table, whose maximum notification id is the head."""
        self._batch = Batch()
        self._events = 0
        self._head = 0

    def fold(self, changes: list[Change], tracking: Tracking) -> None:
        """Adds one event's changes; writes the batch when full or at the store's head."""
        self._batch.add(changes)
        self._events += 1
        if self._events >= self.batch_size or self._reached_head(tracking.notification_id):
            self.write(tracking)

    def write(self, tracking: Tracking) -> None:
        """Writes the batch and records `tracking`, in one transaction."""
        with self.datastore.transaction(commit=True) as cursor, cursor.connection.pipeline():
            self._batch.write(cursor)
            self._insert_tracking(cursor, tracking)
        self._events = 0

    def head(self) -> int:
        """The highest notification id in the event store (0 when empty or unknown)."""
        if self.events_table is None:
            return 0
        query = sql.SQL("SELECT max(notification_id) FROM {}").format(self.events_table)
        with self.datastore.transaction(commit=False) as cursor:
            row = cursor.execute(query).fetchone()
        return int(row["max"] or 0) if row else 0

    def _reached_head(self, notification_id: int) -> bool:
        if notification_id < self._head:
            return False
        self._head = self.head()
        return notification_id >= self._head


class ReadModelProjection(Projection[ReadModelView]):
    """Folds each domain event into the statements of every read model."""

    name = PROJECTION_NAME

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Adds the event's changes to the view's batch (events no read model needs: none).
        An event a fold fails on (a bug) is logged and left out, so that one event never
        stops the read models; a rebuild after the fix brings it in."""
        try:
            changes = [c for fold in FOLDS for c in fold(domain_event, tracking.notification_id)]
        except Exception as error:
            log.error("event left out of the read models", event=type(domain_event).__name__,
                      notification_id=tracking.notification_id, error=repr(error))
            changes = []
        self.view.fold(changes, tracking)
