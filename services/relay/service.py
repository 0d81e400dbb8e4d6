"""The relay as a service: it follows the read models' position and publishes, step by step,
what the event store holds up to it, with its producer, until stopped.

Each step: the events after the relay's position up to the read models' (at most `BATCH`),
their records produced and acknowledged, then the relay's position stored. An idle relay waits
for the read models' writer to say that it moved (a PostgreSQL notification), and looks anyway
every second. The store or the broker away is waited for, with backoff. A record the broker
refuses for good (too large, say) is dead-lettered with the reason and the relay goes on.
"""

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from eventsourcing.persistence import IntegrityError, Notification, Tracking

from services.adapters.backoff import backoff
from services.adapters.event_store import is_unavailable
from services.adapters.following import Wakeups
from services.adapters.health import Watchdog
from services.adapters.postgres import select_notifications
from services.adapters.publishing import Publisher
from services.relay.publisher import Publication, Relay

if TYPE_CHECKING:
    from projections.progress import Heartbeat

log = structlog.get_logger(__name__)

T = TypeVar("T")
R = TypeVar("R")

BATCH = 1000
"""At most this many stored events are published per step."""
IDLE_SECONDS = 1.0
"""How long an idle relay waits for the read models' notification before it looks anyway."""
BEAT_SECONDS = 2.0
"""How often the relay records its heartbeat."""
FOLLOWER_NAME = "relay"
STORE = "the event store"


class RelayService:
    """Starts a producer, publishes until `stop` is set, flushes and closes everything."""

    def __init__(self, relay: Relay, publisher: Publisher,
                 bound: Callable[[], int], wakeups: Wakeups, watchdog: Watchdog,
                 heartbeat: "Heartbeat", closing: Sequence[Any] = ()) -> None:
        self.relay = relay
        self.publisher = publisher
        self.bound = bound
        """The read models' position: the relay publishes nothing beyond it."""
        self.wakeups = wakeups
        self.watchdog = watchdog
        self.heartbeat = heartbeat
        self.closing = closing
        """What else to close at the end (anything with a `close()`)."""
        self.published = 0

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self.publish(stop)
        finally:
            await self.publisher.stop()
            await asyncio.to_thread(self.close)

    def next_step(self, after: int) -> tuple[list[Notification], int, int]:
        """The events to publish after `after`, the position reached once they are, and the
        read models' position: up to it, at most `BATCH` events."""
        bound = self.bound()
        if bound <= after:
            return [], after, bound
        found = select_notifications(self.relay.store.recorder, after, BATCH, bound,
                                     self.relay.topics)
        return found, found[-1].id if len(found) == BATCH else bound, bound

    async def publish(self, stop: asyncio.Event) -> None:
        """Publishes step after step until `stop` is set."""
        position = await self.when_available(lambda _: self.relay.position(), None)
        while not stop.is_set():
            batch, reached, bound = await self.when_available(self.next_step, position)
            if reached > position:
                tagged = await self.when_available(self.relay.records, batch)
                records = [publication.record for _, publication in tagged]
                await self.produce(tagged)
                self.relay.answered(publication for _, publication in tagged)
                await self.when_available(self.store_position, reached)
                position = reached
                self.published += len(records)
                for topic, count in Counter(topic for topic, *_ in records).items():
                    self.relay.metrics.handled(topic, count, "published")
            self.watchdog.turned()
            self.watchdog.progress(position, bound > position)
            if self.heartbeat.due(BEAT_SECONDS):
                await asyncio.to_thread(self.heartbeat.beat, position, bound,
                                        self.watchdog.seconds_since_progress())
            if reached == bound:
                await asyncio.to_thread(self.wakeups.wait, IDLE_SECONDS)

    def store_position(self, reached: int) -> None:
        """Stores the relay's position. The library tries a statement again when the
        connection drops, also after a commit that went through: the position is then stored
        already, and the second try's refusal (it does not move forward) is no failure."""
        try:
            self.relay.store.recorder.insert_tracking(Tracking(self.relay.tracking_name, reached))
        except IntegrityError:
            if self.relay.position() < reached:
                raise

    async def produce(self, tagged: list[tuple[Notification, Publication]]) -> None:
        """Produces the records and waits for every acknowledgement (a transient failure is
        retried for as long as it lasts; a repeat is harmless: identical results, events with
        their ids); a record the broker refuses for good is dead-lettered instead."""
        refused = await self.publisher.publish(
            list(enumerate(publication.record for _, publication in tagged)))
        for n, error in refused.items():
            notification = tagged[n][0]
            log.error("record refused by the broker; dead-lettered",
                      notification_id=notification.id, error=repr(error))
            await self.publisher.publish_dead_letter_record(
                self.relay.dead_letter(notification, error))

    async def when_available(self, work: Callable[[T], R], argument: T) -> R:
        """`work(argument)` in a worker thread, tried again while the store is away."""
        for attempt in itertools.count():
            try:
                result = await asyncio.to_thread(work, argument)
                self.watchdog.available(STORE)
                return result
            except Exception as error:
                if not is_unavailable(error):
                    raise
                self.watchdog.unavailable(STORE)
                wait = backoff(attempt)
                log.warning("event store unavailable; retrying", error=repr(error),
                            retry_seconds=round(wait, 2))
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.relay.store.close()
        self.wakeups.close()
        self.heartbeat.close()
        for resource in self.closing:
            resource.close()
