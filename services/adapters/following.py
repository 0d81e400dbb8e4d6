"""Following the event store without ever passing over an event.

A notification id is drawn from a sequence when a transaction inserts an event, and becomes
visible when that transaction commits. A follower that moved to the highest id it had seen could
pass over a lower id whose transaction commits later, and never fold or publish that event (the
defect Marten, a PostgreSQL event store, fixed in its release 9.16.1). `EventLog.read` moves a
follower only

- over ids it has seen, every one of them: when the ids after its position come without a hole,
  nothing below the last one can come later;
- over a hole once it is proven never to fill: `LOCK TABLE ... IN SHARE MODE` waits until every
  transaction that is inserting events has ended (an insert holds a lock on the table that
  conflicts with it from before it draws its ids until it ends), and ids are drawn in increasing
  order, so an id still missing below the highest one seen, read again under that lock, is
  missing for good: a rolled-back insert, or numbers PostgreSQL skipped after a crash.

eventsourcing's insert lock (one inserting transaction at a time) makes ids commit in order
already; the argument does not rely on it, so an insert that bypassed it could not make a
follower skip either. Everything here is synchronous (psycopg): callers run it in a thread.
"""

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import psycopg
import structlog
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic
from psycopg import sql

from events.legacy import legacy_topics
from services.adapters.event_store import EventStore
from services.adapters.postgres import select_final_notifications, select_notifications

log = structlog.get_logger(__name__)


def topics_of(classes: Iterable[type]) -> list[str]:
    """Every topic under which events of these classes are stored, earlier layouts' too."""
    wanted = set(classes)
    current = [get_topic(cls) for cls in wanted]
    return current + [old for old, cls in legacy_topics().items() if cls in wanted]


@dataclass(frozen=True)
class Step:
    """What a follower may take after its position: the events, and the position it may then
    store (every notification id up to it is final: among `notifications`, or never to come)."""

    notifications: list[Notification]
    position: int
    holes: int = 0
    """Ids proven never to fill that this step passes over."""


@dataclass
class EventLog:
    """The event store's notifications, read so that a follower never passes over one."""

    store: EventStore
    limit: int = 1000
    """At most this many notifications per step."""
    holes: int = field(default=0, init=False)
    """Ids passed over so far, each proven never to fill."""

    def read(self, after: int) -> Step:
        """The notifications after `after` that are final, at most `limit` of them."""
        found = select_notifications(self.store.recorder, after, self.limit)
        if not found:
            return Step([], after)
        last = found[-1].id
        if last - after == len(found):  # ids are unique: no hole between after and last
            return Step(list(found), last)
        final = select_final_notifications(self.store.recorder, after, last)
        holes = last - after - len(final)
        self.holes += holes
        log.info("notification ids that will never be used passed over", after=after,
                 up_to=last, holes=holes)
        return Step(final, last, holes)

    def head(self) -> int:
        """The highest notification id stored (0: none)."""
        return self.store.recorder.max_notification_id() or 0


class Wakeups:
    """PostgreSQL notifications on one channel (LISTEN): a follower waits for the next one
    instead of polling, and polls anyway every `timeout` (a notification can be lost with a
    connection). A connection that fails is opened again at the next wait."""

    def __init__(self, dsn: str, channel: str) -> None:
        self.dsn = dsn
        self.channel = channel
        self.connection: psycopg.Connection[tuple[object, ...]] | None = None

    def wait(self, timeout: float) -> bool:
        """Returns True when notified within `timeout` seconds, False otherwise."""
        try:
            connection = self._connection()
            for _ in connection.notifies(timeout=timeout, stop_after=1):
                return True
        except psycopg.Error as error:
            log.info("event store notifications lost; polling", error=repr(error))
            self.close()
            time.sleep(min(timeout, 1.0))
        return False

    def _connection(self) -> "psycopg.Connection[tuple[object, ...]]":
        if self.connection is None or self.connection.closed:
            self.connection = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
            self.connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def wanted(step: Step, topics: Sequence[str]) -> list[Notification]:
    """The notifications of a step stored under these topics (all: none named)."""
    if not topics:
        return step.notifications
    chosen = set(topics)
    return [notification for notification in step.notifications if notification.topic in chosen]
