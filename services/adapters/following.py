"""Following the event store: eventsourcing's subscription, handed to asyncio in batches.

The recorder's subscription (`recorder.subscribe`, LISTEN/NOTIFY on PostgreSQL) blocks: it runs
in a worker thread of its own, which passes each stored event's notification through a bounded
queue; the asynchronous side takes whatever has arrived as one batch, so a busy store is
followed in few, large steps. Notifications are handed over as stored: the caller decodes them
(`store.mapper.to_domain_event`) and decides what an event it cannot decode means. The
library's subscription ends with an error when the database goes away; `follow` then starts a
new one from the caller's own stored position, after a pause.
"""

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import structlog
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from events.legacy import legacy_topics
from services.adapters.event_store import EventStore

log = structlog.get_logger(__name__)

_END = object()


class SubscriptionEndedError(Exception):
    """The library's subscription ended (it was stopped)."""


def topics_of(classes: Iterable[type]) -> list[str]:
    """Every topic under which events of these classes are stored, earlier layouts' too."""
    wanted = set(classes)
    current = [get_topic(cls) for cls in wanted]
    return current + [old for old, cls in legacy_topics().items() if cls in wanted]


class Subscription:
    """One subscription to the store after notification `after`, read in a worker thread."""

    def __init__(self, store: EventStore, after: int, topics: Sequence[str],
                 buffered: int = 10_000) -> None:
        self._source = store.recorder.subscribe(gt=after, topics=topics)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=buffered)
        self._reader = threading.Thread(target=self._read, name="store-subscription",
                                        daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for followed in self._source:
                self._queue.put(followed)
            self._queue.put(_END)
        except BaseException as error:  # handed over to the asynchronous side
            self._queue.put(error)

    async def next_batch(self, limit: int) -> list[Notification]:
        """The events that arrived, at least one and at most `limit`; waits for the first."""
        first = await asyncio.to_thread(self._queue.get)
        batch = [self._checked(first)]
        while len(batch) < limit:
            try:
                batch.append(self._checked(self._queue.get_nowait()))
            except queue.Empty:
                break
        return batch

    @staticmethod
    def _checked(entry: Any) -> Notification:
        if entry is _END:
            raise SubscriptionEndedError
        if isinstance(entry, BaseException):
            raise entry
        notification: Notification = entry
        return notification

    def stop(self) -> None:
        """Stops the subscription and lets its thread end."""
        self._source.stop()
        while self._reader.is_alive():
            try:  # unblock a reader waiting for room in the queue
                self._queue.get_nowait()
            except queue.Empty:
                self._reader.join(timeout=0.1)


async def follow(store: EventStore, position: Any, topics: Sequence[str], stop: asyncio.Event,
                 batch_size: int = 1000, retry_seconds: float = 1.0,
                 ) -> AsyncIterator[list[Notification]]:
    """Batches of events after `position()` (read from the caller's own store of its progress)
    until `stop` is set; a lost database connection starts a new subscription after a pause.
    """
    while not stop.is_set():
        subscription = Subscription(store, await asyncio.to_thread(position), topics)
        try:
            while not stop.is_set():
                batch = await _unless_stopped(subscription.next_batch(batch_size), stop)
                if batch is None:
                    break
                yield batch
        except SubscriptionEndedError:
            pass
        except Exception as error:
            log.warning("event store subscription lost; following again", error=repr(error),
                        retry_seconds=retry_seconds)
            await _unless_stopped(asyncio.sleep(retry_seconds), stop)
        finally:
            await asyncio.to_thread(subscription.stop)


async def _unless_stopped(awaitable: Any, stop: asyncio.Event) -> Any:
    """The awaitable's result, or None as soon as `stop` is set."""
    work = asyncio.ensure_future(awaitable)
    stopped = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if work in done:
        stopped.cancel()
        return work.result()
    work.cancel()
    return None
