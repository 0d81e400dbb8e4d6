"""The read models' view: the rows of every read model and the position they hold, written in one
transaction.

The read models have one writer, the projections service (`projections.writer`), which folds
every event of the store in notification order, a step at a time: a step's rows and its position
are written together, or not at all, so a restart neither skips nor doubles anything. The write
takes a transaction-scoped advisory lock and checks that the position is where the writer left
it; a second writer (a rebuild, a second instance, `loyalty projections verify`) is therefore
never interleaved: the one that finds the position moved starts again from it.

An event that cannot be folded (a fold that fails, an event that cannot be decoded, a row the
database refuses, such as a decimal beyond PostgreSQL's range) is quarantined: left out, recorded
in `read_models.quarantine` with its error, logged and counted, so that one event never stops
the read models of everyone; `loyalty projections verify` reports it, and a rebuild after the fix
folds it.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import get_topic
from psycopg import sql

from projections import bonus_operations, customers, item_outcomes, lots, messages
from projections.folding import Batch, Change, Fold, StateFold
from projections.schema import (
    APPLICATION_NAME,
    CREATE_SCHEMA,
    POSITION_CHANNEL,
    QUARANTINE,
)
from services.adapters.event_store import is_unavailable
from services.adapters.eventsourcing_internals import TrackingView

log = structlog.get_logger(__name__)

READ_MODELS = (customers, bonus_operations, messages, item_outcomes, lots)
"""Customers first: the other read models copy the programme and uniqId from its rows."""

FOLDED_CLASSES: tuple[type, ...] = tuple(
    {cls: None for model in READ_MODELS for cls in model.FOLDED})
"""Every event class some read model folds (subclasses included)."""


@functools.cache
def folds_of(event_class: type) -> tuple[Fold, ...]:
    """The folds of the read models that fold events of this class (each read model says which
    classes in its `FOLDED`): an event meets only those, not every fold's every case."""
    return tuple(model.fold for model in READ_MODELS
                 if issubclass(event_class, model.FOLDED))


@functools.cache
def state_fold_of(topic: str) -> tuple[StateFold, int] | None:
    """The fold of the events stored under `topic` straight from their stored JSON, with the
    class version it reads: when the one read model that folds the class offers one
    (`STATE_FOLDS`), for the class's own topic (a legacy topic's states are older). None
    otherwise: the event is decoded and every fold of its class meets it."""
    for event_class, fold in ((cls, fold) for model in READ_MODELS
                              for cls, fold in model.STATE_FOLDS.items()):
        if get_topic(event_class) == topic and len(folds_of(event_class)) == 1:
            return fold, getattr(event_class, "class_version", 1)
    return None


EVENT_TABLES = (*(model.TABLE for model in READ_MODELS), QUARANTINE)
"""The tables built from the event store alone (a rebuild empties and refills them)."""

POSITION_LOCK = sql.SQL("SELECT pg_advisory_xact_lock(%s)")
POSITION_LOCK_KEY = 0x6C6F79616C7479
"""The advisory lock of the read models' position: one writer at a time reads and writes it."""
NOTIFY_POSITION = sql.SQL("NOTIFY {}").format(sql.Identifier(POSITION_CHANNEL))
QUARANTINE_ROW = sql.SQL(
    f"INSERT INTO {QUARANTINE} (notification_id, originator_id, topic, error) "
    "VALUES (%s, %s, %s, %s) ON CONFLICT (notification_id) DO UPDATE SET error = EXCLUDED.error")


class OvertakenError(RuntimeError):
    """The read models' position is not where this writer left it: another writer moved it
    (or a rebuild reset it). The writer starts again from the position found."""


def changes_of(event: object, notification_id: int) -> list[Change]:
    """Every read model's changes for one event (raises what a fold raises)."""
    event_class: Any = type(event)
    return [change for fold in folds_of(event_class) for change in fold(event, notification_id)]


@dataclass(frozen=True)
class Quarantined:
    """An event left out of the read models, and why."""

    notification_id: int
    originator_id: str
    topic: str
    error: str


@dataclass(frozen=True)
class Folded:
    """One event's changes, ready to write."""

    notification_id: int
    originator_id: str
    topic: str
    changes: list[Change]


class ReadModelView(TrackingView):
    """Read-model rows and their position, written together in one transaction."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.insert(0, sql.Composed([CREATE_SCHEMA]))

    def position(self) -> int:
        """The last notification id the read models hold (0 before the first)."""
        return self.max_tracking_id(APPLICATION_NAME) or 0

    def write(self, folded: Sequence[Folded], quarantined: Sequence[Quarantined],
              position: int, expected: int) -> list[Quarantined]:
        """Writes a step: its events' changes, the events quarantined, and the new position, in
        one transaction; returns the events the database refused (quarantined too). Raises
        OvertakenError, writing nothing, when the position is not `expected`."""
        with self.datastore.transaction(commit=True) as cursor:
            self._claim(cursor, expected)
            refused = write_changes(cursor, folded)
            self._finish(cursor, [*quarantined, *refused], position)
        return refused

    def _claim(self, cursor: Any, expected: int) -> None:
        cursor.execute(POSITION_LOCK, (POSITION_LOCK_KEY,))
        found = self.position_on(cursor, APPLICATION_NAME)
        if found != expected:
            raise OvertakenError(f"read models at {found}, expected {expected}")

    def _finish(self, cursor: Any, quarantined: Sequence[Quarantined], position: int) -> None:
        for entry in quarantined:
            cursor.execute(QUARANTINE_ROW, (entry.notification_id, entry.originator_id,
                                            entry.topic, entry.error[:2000]))
        self.track_on(cursor, Tracking(APPLICATION_NAME, position))
        cursor.execute(NOTIFY_POSITION)


def write_changes(cursor: Any, folded: Sequence[Folded]) -> list[Quarantined]:
    """Writes the events' changes on `cursor`, within its transaction: merged per row into a
    few set-based statements; when the database refuses them, again event by event, each in a
    savepoint, leaving out (and returning) every event whose rows it refuses."""
    batch = Batch()
    for one in folded:
        batch.add(one.changes)
    try:
        with cursor.connection.transaction(), cursor.connection.pipeline():
            batch.write(cursor)
        return []
    except Exception as error:
        if is_unavailable(error):
            raise
        log.warning("rows refused; writing them event by event", events=len(folded),
                    error=repr(error))
    refused: list[Quarantined] = []
    for one in folded:
        alone = Batch()
        alone.add(one.changes)
        try:
            with cursor.connection.transaction():
                alone.write(cursor)
        except Exception as error:
            if is_unavailable(error):
                raise
            refused.append(Quarantined(one.notification_id, one.originator_id, one.topic,
                                       f"refused by the database: {error!r}"))
    return refused
