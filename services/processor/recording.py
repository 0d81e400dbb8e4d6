"""Records batches of items in the event store: one transaction per batch, item by item on conflict.

Everything here is synchronous (eventsourcing and psycopg block): the consumer runs it in a
worker thread.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from events.commands import WorkItem
from services.customers.application import CustomerApplication
from services.customers.processing import CustomerBook
from services.processor.positions import Position, tracking_name
from services.processor.prefetch import AggregateCache, PrefetchedLoader

log = structlog.get_logger(__name__)

ATTEMPTS_PER_ITEM = 10


@dataclass(frozen=True)
class ItemRecord:
    """A work item and the Kafka position it was read from (item None: undecodable record)."""

    item: WorkItem | None
    position: Position


class ItemRecorder:
    """Applies items to customer aggregates and saves their events with the Kafka position."""

    def __init__(self, app: CustomerApplication) -> None:
        self.app = app
        self.cache = AggregateCache()

    def stored_offset(self, topic: str, partition: int) -> int | None:
        """The next offset to read from a partition, as last stored with events, or None."""
        return self.app.recorder.max_tracking_id(tracking_name(topic, partition))

    def record_batch(self, records: Sequence[ItemRecord]) -> None:
        """Records a batch atomically with each partition's last position, or item by item on
        conflict. Records of one partition must come in offset order."""
        if not records:
            return
        items = [record.item for record in records if record.item is not None]
        book = CustomerBook(PrefetchedLoader(self.app, self.cache, items))
        for record in records:
            if record.item is not None:
                book.apply(record.item, str(record.position))
        try:
            self.save(book.pending(), last_positions(records))
        except IntegrityError:
            log.info("batch conflicted, recording item by item", size=len(records))
            for record in records:
                self.record_one(record)

    def record_one(self, record: ItemRecord) -> None:
        """Records one item in a transaction of its own, retrying on concurrent writes."""
        for _ in range(ATTEMPTS_PER_ITEM):
            if self.already_recorded(record.position):
                return
            book = CustomerBook(self.app.load)
            if record.item is not None:
                book.apply(record.item, str(record.position))
            try:
                self.save(book.pending(), [record.position])
                return
            except IntegrityError:
                continue
        raise RuntimeError(f"item at {record.position} kept conflicting")

    def already_recorded(self, position: Position) -> bool:
        stored = self.stored_offset(position.topic, position.partition)
        return stored is not None and stored > position.offset

    def save(self, aggregates: Sequence[Aggregate], positions: Sequence[Position]) -> None:
        """Stores the aggregates' new events and the positions in one transaction."""
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        try:
            self.app.events.put(events, trackings=[p.tracking() for p in positions])
        except Exception:
            self.cache.forget(aggregates)
            raise
        self.cache.keep(aggregates)


def last_positions(records: Sequence[ItemRecord]) -> list[Position]:
    """The last position of each partition among the records."""
    last: dict[tuple[str, int], Position] = {}
    for record in records:
        last[record.position.topic, record.position.partition] = record.position
    return list(last.values())
