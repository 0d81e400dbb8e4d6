"""Applies batches of items and saves them: one transaction per batch, item by item on conflict.

Load, call, save: the aggregates a batch needs are loaded in one query
(`services.adapters.prefetch`), the domain's unit of work applies the items, and every new
event is saved with the batch's Kafka positions in one transaction. Everything here is
synchronous (eventsourcing and psycopg block): the consumer runs it in a worker thread.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from services.adapters.event_store import EventStore
from services.adapters.positions import Position, tracking_name
from services.adapters.prefetch import AggregateCache, PrefetchedLoader
from services.domain import UnitOfWork
from services.domain.commands import Command

log = structlog.get_logger(__name__)

ATTEMPTS_PER_ITEM = 10


@dataclass(frozen=True)
class ItemRecord:
    """An item and the Kafka position it was read from (item None: an undecodable record)."""

    item: Command | None
    position: Position


class ItemProcessor:
    """Applies items to the aggregates and saves their events with the Kafka positions."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.cache = AggregateCache()

    def stored_offset(self, topic: str, partition: int) -> int | None:
        """The next offset to read from a partition, as last stored with events, or None."""
        return self.store.recorder.max_tracking_id(tracking_name(topic, partition))

    def process_batch(self, records: Sequence[ItemRecord]) -> None:
        """Saves a batch atomically with each partition's last position, or item by item on
        conflict. Records of one partition must come in offset order."""
        if not records:
            return
        items = [record.item for record in records if record.item is not None]
        work = UnitOfWork(PrefetchedLoader(self.store, self.cache, items))
        for record in records:
            if record.item is not None:
                work.apply(record.item, str(record.position))
        try:
            self.save(work.pending(), last_positions(records))
        except IntegrityError:
            log.info("batch conflicted, processing item by item", size=len(records))
            for record in records:
                self.process_one(record)

    def process_one(self, record: ItemRecord) -> None:
        """Saves one item in a transaction of its own, retrying on concurrent writes."""
        for _ in range(ATTEMPTS_PER_ITEM):
            if self.already_processed(record.position):
                return
            work = UnitOfWork(self.store.load)
            if record.item is not None:
                work.apply(record.item, str(record.position))
            try:
                self.save(work.pending(), [record.position])
                return
            except IntegrityError:
                continue
        raise RuntimeError(f"item at {record.position} kept conflicting")

    def already_processed(self, position: Position) -> bool:
        stored = self.stored_offset(position.topic, position.partition)
        return stored is not None and stored > position.offset

    def save(self, aggregates: Sequence[Aggregate], positions: Sequence[Position]) -> None:
        """Stores the aggregates' new events and the positions in one transaction."""
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        try:
            self.store.events.put(events, trackings=[p.tracking() for p in positions])
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
