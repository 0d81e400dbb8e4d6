"""The read models' one writer: it follows the event store, folds each step, writes it.

`ReadModelWriter.step` reads the events after the read models' position with
`services.adapters.following.EventLog` (which never passes over an event that could still be
committed), decodes and folds them, and writes their rows with the step's position in one
transaction (`projections.view.ReadModelView`). An event that cannot be decoded, folded or
written is quarantined, never waited for.

`ReadModelFollower` runs the writer until stopped, waking when the event store says it stored
something; `rebuild` empties the read models and folds the whole store again. Everything here is
synchronous (eventsourcing and psycopg block) and runs in threads of its own. The writer's event
store and view, the follower's wakeups and heartbeat are made by the composition root
(`services.bootstrap.read_models_writer`, `read_models_follower`) and handed in.
"""

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import psycopg
import structlog
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic
from psycopg import sql

from projections.progress import Heartbeat
from projections.schema import APPLICATION_NAME, PROJECTION_NAME, SCHEMA, TRACKING_TABLE
from projections.view import (
    EVENT_TABLES,
    Folded,
    OvertakenError,
    Quarantined,
    ReadModelView,
    changes_of,
    folds_of,
    state_fold_of,
)
from services.adapters.backoff import backoff
from services.adapters.event_store import EventStore, is_unavailable
from services.adapters.eventsourcing_internals import CompiledJSONTranscoder
from services.adapters.following import EventLog, Step, Wakeups
from services.adapters.health import Watchdog
from services.adapters.metrics import ServiceMetrics
from services.adapters.personal_data import domain_events
from services.adapters.postgres import event_store_env
from services.settings import Settings

log = structlog.get_logger(__name__)

FOLLOWER_NAME = "read-models"
"""The writer's name among the followers of the event store (`read_models.followers`)."""
IDLE_SECONDS = 1.0
"""How long an idle writer waits for the store's notification before it looks anyway."""
BEAT_SECONDS = 2.0
"""How often the writer records its heartbeat."""
STORE = "the event store"
STEP_LIMIT = 1000
"""At most this many events per step (one transaction)."""


def projection_env(settings: Settings, *, create_tables: bool = False) -> dict[str, str]:
    """The event store's environment, with the view's tables in the read-model schema."""
    env = event_store_env(settings, create_tables=create_tables)
    return {**env, f"{PROJECTION_NAME.upper()}_POSTGRES_SCHEMA": SCHEMA}


@functools.cache
def folded_topic(topic: str) -> bool:
    """Whether events stored under this topic are folded by some read model."""
    try:
        return bool(folds_of(resolve_topic(topic)))
    except Exception:
        return True  # a topic that cannot be resolved: decoding it quarantines the event


def folded_from_state(plain: Callable[[bytes], Any] | None,
                      notification: Notification) -> Folded | None:
    """The event's changes made from its stored JSON as it is (`plain`: the compiled
    transcoder's reading), or None: it is not of a kind folded so, not of its class's current
    version, or needs decoding after all (then decoding it folds it, or quarantines it with
    the error)."""
    state_fold = state_fold_of(notification.topic)
    if state_fold is None or plain is None:
        return None
    fold, version = state_fold
    try:
        state = plain(notification.state)
        if state.pop("class_version", 1) != version:
            return None
        originator = notification.originator_id
        changes = fold(originator if isinstance(originator, UUID) else UUID(originator), state)
    except Exception:
        return None
    if changes is None:
        return None
    return Folded(notification.id, str(notification.originator_id), notification.topic, changes)


class ReadModelWriter:
    """Folds the event store into the read models, one step at a time, never skipping."""

    def __init__(self, store: EventStore, view: ReadModelView, limit: int | None = None,
                 metrics: ServiceMetrics | None = None) -> None:
        self.store = store
        self.view = view
        self.events = EventLog(store, limit=limit or STEP_LIMIT)
        self.metrics = metrics
        self.position = view.position()
        """Where the read models are, as this writer last wrote or found them."""
        transcoder = store.mapper.transcoder
        self.plain = transcoder.plain if isinstance(transcoder, CompiledJSONTranscoder) else None

    def step(self) -> Step | None:
        """Folds and writes the next step; returns it (None: nothing new). A step another
        writer wrote meanwhile is not written again: the position found is taken up."""
        step = self.events.read(self.position)
        if step.position == self.position:
            self.position = self.view.position()  # idle: moved by a rebuild or another writer?
            return None
        folded: list[Folded] = []
        quarantined: list[Quarantined] = []
        for one in self.fold_all(step.notifications):
            if isinstance(one, Folded):
                folded.append(one)
            elif one is not None:
                quarantined.append(one)
        try:
            self.write(step, folded, quarantined)
        except OvertakenError as overtaken:
            self.position = self.view.position()
            log.info("read models written by another writer meanwhile; following on",
                     detail=str(overtaken), position=self.position)
            return None
        self.position = step.position
        if self.metrics is not None:
            self.metrics.handled("event-store", len(step.notifications), "folded")
        return step

    def fold_all(self, notifications: Sequence[Notification], *, from_state: bool = True
                 ) -> list[Folded | Quarantined | None]:
        """Each stored event's changes, its quarantine when it cannot be decoded or folded, or
        None when no read model folds it; decoded together (the data keys they need in one
        query). With `from_state`, an event whose read model folds it from its stored JSON
        (`projections.view.state_fold_of`) is not decoded at all."""
        early: dict[int, Folded] = {}
        wanted = []
        for notification in notifications:
            if not folded_topic(notification.topic):
                continue
            folded = folded_from_state(self.plain, notification) if from_state else None
            if folded is None:
                wanted.append(notification)
            else:
                early[notification.id] = folded
        decoded = dict(zip((notification.id for notification in wanted),
                           domain_events(self.store.mapper, wanted), strict=True))
        return [early[notification.id] if notification.id in early
                else self.fold(notification, decoded[notification.id])
                if notification.id in decoded else None for notification in notifications]

    def fold(self, notification: Notification, event: Any) -> Folded | Quarantined:
        """One decoded event's changes (or the error that kept it from being decoded), or
        its quarantine."""
        try:
            if isinstance(event, Exception):
                raise event
            changes = changes_of(event, notification.id)
        except Exception as error:
            if is_unavailable(error):
                raise
            return Quarantined(notification.id, str(notification.originator_id),
                               notification.topic, f"not folded: {error!r}")
        return Folded(notification.id, str(notification.originator_id), notification.topic,
                      changes)


    def write(self, step: Step, folded: list[Folded], quarantined: list[Quarantined]) -> None:
        """Writes the step with its position; every event left out is logged and counted."""
        refused = self.view.write(folded, quarantined, step.position, self.position)
        for entry in [*quarantined, *refused]:
            log.error("event quarantined: left out of the read models",
                      notification_id=entry.notification_id, topic=entry.topic,
                      error=entry.error)
            if self.metrics is not None:
                self.metrics.quarantined.labels(self.metrics.service).inc()

    def catch_up(self, head: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> int:
        """Folds until the read models hold every event stored when called (or up to `head`);
        returns the position reached."""
        target = self.events.head() if head is None else head
        while self.position < target:
            self.step()
            if progress is not None:
                progress(self.position, target)
        return self.position

    def close(self) -> None:
        self.view.datastore.close()
        self.store.close()


class ReadModelFollower:
    """Keeps the read models up to date until stopped: a step whenever the event store has
    stored something (`wakeups`, and at least every second), a heartbeat every few seconds. A
    database that went away is waited for, with backoff, and the writer made again (`writer`)."""

    def __init__(self, writer: Callable[[], ReadModelWriter], wakeups: Wakeups,
                 heartbeat: Heartbeat, watchdog: Watchdog,
                 metrics: ServiceMetrics | None = None) -> None:
        self.writer = writer
        self.wakeups = wakeups
        self.heartbeat = heartbeat
        self.watchdog = watchdog
        self.metrics = metrics

    def follow(self, stop: threading.Event) -> None:
        """Follows until `stop` is set; closes the writer, the wakeups and the heartbeat."""
        failures = 0
        writer: ReadModelWriter | None = None
        try:
            while not stop.is_set():
                try:
                    writer = writer or self.writer()
                    step = writer.step()
                    self.beat(writer)
                    failures = 0
                    if step is None or len(step.notifications) < writer.events.limit:
                        self.wakeups.wait(IDLE_SECONDS)
                except Exception as error:
                    wait = backoff(failures, first=1.0, longest=30.0)
                    failures += 1
                    self.failed(error, wait)
                    if writer is not None:
                        writer.close()
                        writer = None
                    stop.wait(wait)
        finally:
            self.wakeups.close()
            self.heartbeat.close()
            if writer is not None:
                writer.close()

    def beat(self, writer: ReadModelWriter) -> None:
        """Tells the watchdog the writer turned, and records a heartbeat when one is due."""
        self.watchdog.turned()
        if self.heartbeat.due(BEAT_SECONDS):
            head = writer.events.head()
            self.watchdog.progress(writer.position, head > writer.position)
            self.heartbeat.beat(writer.position, head, self.watchdog.seconds_since_progress())
        self.watchdog.available(STORE)

    def failed(self, error: Exception, wait: float) -> None:
        if is_unavailable(error):
            self.watchdog.unavailable(STORE)
            log.warning("event store unavailable; waiting for it", error=repr(error),
                        retry_seconds=round(wait, 2))
        else:
            log.exception("read models not written; trying again",
                          retry_seconds=round(wait, 2))
        if self.metrics is not None:
            self.metrics.error("projection")


def clear_read_models(dsn: str) -> None:
    """Empties the tables built from the event store and sets their position back to the
    start, keeping the tables themselves (their schema is versioned, `projections.migrations`).

    The pending items (from Kafka, not from the event store), the followers' heartbeats, the
    verifications and the login limits are kept; so is the tracking table's record of its own
    layout, which eventsourcing keeps in it beside the position.
    """
    tables = sql.SQL(", ").join(sql.SQL(table) for table in EVENT_TABLES)
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute(sql.SQL("TRUNCATE {}").format(tables))
        conn.execute(sql.SQL(f"DELETE FROM {SCHEMA}.{TRACKING_TABLE} WHERE application_name = %s"),
                     (APPLICATION_NAME,))


OnProgress = Callable[[int, int], None]
"""(position, head) -> None: told how far a rebuild has come."""


def rebuild(dsn: str, writer: Callable[[], ReadModelWriter],
            progress: OnProgress | None = None) -> int:
    """Empties the read models and folds the whole event store again, up to the head it had
    when the rebuild started; returns that head. Run as the tables' owner (`dsn`), once their
    schema is this release's (`services.bootstrap.rebuild_read_models` sees to both); the
    writer is made once they are empty. A running projections service is not disturbed: it
    finds the position moved and follows on from it."""
    clear_read_models(dsn)
    rebuilding = writer()
    try:
        return rebuilding.catch_up(progress=progress)
    finally:
        rebuilding.close()
