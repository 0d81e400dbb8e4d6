"""The materialised view of every read model, and the projection that folds events into it.

One view, one tracking name: every event is folded once, and the rows it changes in any read
model are written in the same transaction as the tracking position.

Two writers keep it, never at the same time for the same events:

- the processor, inline: it folds a batch's events before it stores them (`prepare`: the
  events as it has them in memory, nothing read back, nothing decoded) and writes the changes
  in the transaction that stores them (`fold_inline`), when the read models hold everything
  stored before the batch, moving the position to the batch's last event. A result published
  from the store is then already in the read models;
- the projections service (`ReadModelProjection`, eventsourcing's projection runner) folds what
  the read models lack: after a rebuild, after an inline fold that failed, or always when
  inline folding is off (`LOYALTY_READ_MODELS_INLINE=false`).

Both take the same transaction-scoped advisory lock before they read the position, and each
writes only if the position is where it expects it (the processor: the last event stored
before its batch; the service: where it last wrote). The service, overtaken, starts again from
the new position; the processor, behind, leaves its batch to the service.

The service's view gathers the changes of consecutive events in a `Batch` (merged per row,
written as a few set-based statements) and writes them together with the last event's position
when `batch_size` events have gathered or when it has reached the head of the event store, so a
restart neither skips nor doubles anything and a busy store is followed in few transactions.
"""

import functools
from collections.abc import Sequence
from typing import Any

import structlog
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg import sql

from projections import bonus_operations, customers, item_outcomes, lots, messages
from projections.folding import Batch, Change, Fold, NotificationId, Unnumbered
from projections.schema import APPLICATION_NAME, CREATE_SCHEMA, PROJECTION_NAME

log = structlog.get_logger(__name__)

READ_MODELS = (customers, bonus_operations, messages, item_outcomes, lots)
"""Customers first: the other read models copy the programme and uniqId from its rows."""

@functools.cache
def folds_of(event_class: type) -> tuple[Fold, ...]:
    """The folds of the read models that fold events of this class (each read model says which
    classes in its `FOLDED`): an event meets only those, not every fold's every case."""
    return tuple(model.fold for model in READ_MODELS
                 if issubclass(event_class, model.FOLDED))


DDL: tuple[sql.SQL, ...] = (
    *(statement for model in READ_MODELS for statement in model.DDL),
    *item_outcomes.PENDING_DDL,
)
EVENT_TABLES = tuple(model.TABLE for model in READ_MODELS)
"""The tables built from the event store alone (a rebuild drops and refills them)."""

POSITION_LOCK = sql.SQL("SELECT pg_advisory_xact_lock(%s)")
POSITION_LOCK_KEY = 0x6C6F79616C7479
"""The advisory lock of the read models' position: one writer at a time decides and writes."""


class OvertakenError(RuntimeError):
    """The read models' position moved past where the service expected it: the processor
    folded those events already. The service starts again from the new position."""


def changes_of(event: object, notification_id: NotificationId) -> list[Change]:
    """Every read model's changes for one event. An event a fold fails on (a bug) is logged and
    left out, so that one event never stops the read models; a rebuild after the fix brings it
    in."""
    try:
        event_class: Any = type(event)
        return [change for fold in folds_of(event_class)
                for change in fold(event, notification_id)]
    except Exception as error:
        log.error("event left out of the read models", event=type(event).__name__,
                  notification_id=str(notification_id), error=repr(error))
        return []


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
        self.written_to: int | None = None
        """The position this view last wrote (or found when its runner started)."""

    def prepare(self, events: Sequence[object]) -> Batch:
        """The read models' changes for a batch of events not stored yet (their rows numbered
        when `fold_inline` writes them): done before the events' insert, outside its lock."""
        batch = Batch()
        for index, event in enumerate(events):
            batch.add(changes_of(event, Unnumbered(index)))
        batch.seal()
        return batch

    def fold_inline(self, cursor: Any, prepared: Batch, notification_ids: Sequence[int]) -> bool:
        """Writes the changes `prepare` made of a batch of events, just stored with these
        notification ids on `cursor`'s transaction, in the same transaction, if the read models
        hold every event stored before them; returns whether it did. A failure is logged and
        undone (a savepoint): the events are stored all the same, and the service folds them
        later."""
        connection = cursor.connection
        try:
            with connection.transaction(), connection.pipeline():
                cursor.execute(POSITION_LOCK, (POSITION_LOCK_KEY,))
                if self._position(cursor) != self._stored_before(cursor, notification_ids[0]):
                    return False
                prepared.write(cursor, numbering=notification_ids)
                self._insert_tracking(cursor, Tracking(APPLICATION_NAME, notification_ids[-1]))
        except Exception as error:
            log.error("read models not written with the events; the projections service will "
                      "fold them", first=notification_ids[0], last=notification_ids[-1],
                      error=repr(error))
            return False
        return True

    def _position(self, cursor: Any) -> int:
        return self._max_tracking_id(APPLICATION_NAME, cursor) or 0

    def _stored_before(self, cursor: Any, notification_id: int) -> int:
        """The last notification id below `notification_id` (0: none)."""
        if self.events_table is None:
            raise RuntimeError("the view does not know the event store's table")
        query = sql.SQL("SELECT max(notification_id) AS last FROM {} WHERE notification_id < %s"
                        ).format(self.events_table)
        row = cursor.execute(query, (notification_id,)).fetchone()
        return int(row["last"] or 0) if row else 0

    def fold(self, changes: list[Change], tracking: Tracking) -> None:
        """Adds one event's changes; writes the batch when full or at the store's head."""
        self._batch.add(changes)
        self._events += 1
        if self._events >= self.batch_size or self._reached_head(tracking.notification_id):
            self.write(tracking)

    def write(self, tracking: Tracking) -> None:
        """Writes the batch and records `tracking`, in one transaction; raises OvertakenError
        (writing nothing) when the position is no longer where this view last left it."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(POSITION_LOCK, (POSITION_LOCK_KEY,))
            position = self._position(cursor)
            if self.written_to is not None and position != self.written_to:
                self._batch = Batch()
                self._events = 0
                raise OvertakenError(f"read models at {position}, expected {self.written_to}")
            with cursor.connection.pipeline():
                self._batch.write(cursor)
                self._insert_tracking(cursor, tracking)
        self.written_to = tracking.notification_id
        self._events = 0

    def head(self) -> int:
        """The highest notification id in the event store (0 when empty or unknown)."""
        if self.events_table is None:
            return 0
        query = sql.SQL("SELECT max(notification_id) FROM {}").format(self.events_table)
        with self.datastore.transaction(commit=False) as cursor:
            row = cursor.execute(query).fetchone()
        return int(row["max"] or 0) if row else 0

    def caught_up(self) -> bool:
        """Whether the read models hold every event stored. Both are read in one statement,
        one snapshot: read one after the other, a processor's commit landing in between (its
        events and their read models at once) would look like a lag that is not there."""
        if self.events_table is None:
            raise RuntimeError("the view does not know the event store's table")
        query = sql.SQL(
            "SELECT coalesce((SELECT max(notification_id) FROM {}.{} WHERE application_name = %s),"
            " 0) >= coalesce((SELECT max(notification_id) FROM {}), 0) AS caught_up"
        ).format(sql.Identifier(self.datastore.schema), sql.Identifier(self.tracking_table_name),
                 self.events_table)
        with self.datastore.transaction(commit=False) as cursor:
            row = cursor.execute(query, (APPLICATION_NAME,)).fetchone()
        return bool(row and row["caught_up"])

    def _reached_head(self, notification_id: int) -> bool:
        if notification_id < self._head:
            return False
        self._head = self.head()
        return notification_id >= self._head


class ReadModelProjection(Projection[ReadModelView]):
    """Folds each domain event into the statements of every read model."""

    name = PROJECTION_NAME

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Adds the event's changes to the view's batch (events no read model needs: none)."""
        self.view.fold(changes_of(domain_event, tracking.notification_id), tracking)
