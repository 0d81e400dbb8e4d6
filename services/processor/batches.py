"""Applies batches of items and saves them: one transaction per batch, item by item when needed.

Load, call, save: the aggregates a batch needs are loaded in one query, or two when some start
from snapshots (`services.adapters.prefetch`), the domain's unit of work applies the items, and
every new event is saved with the batch's Kafka positions in one transaction; a customer that
crossed a multiple of the snapshot interval is snapshotted just after. The read models follow
the store on their own (`projections.writer`).

A batch that conflicts with another writer, or fails, is done again item by item in offset
order, each item in a transaction of its own with freshly loaded aggregates. An item that still
fails after a few tries (a bug, or a record that cannot be read) stops the batch there: the
caller dead-letters it, `fail` stores its `PROCESSING_FAILED` answer with its position, and the
rest of the batch goes on. A store that is unavailable is not an item's fault: that error
reaches the caller, which waits for the store and reads the records again.

An envelope's items are applied one by one like any, each at a position of its own; the
record's position is stored with its last item, so an envelope given up half-way is read again
whole, and its items already stored are recognised by their positions and change nothing.

Everything here is synchronous (eventsourcing and psycopg block): the consumer runs it in a
worker thread.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import takewhile

import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from services.adapters.dead_letters import DeadLetter, Origin, describe
from services.adapters.event_store import EventStore, is_unavailable
from services.adapters.personal_data import sealed_letter
from services.adapters.positions import Position, incarnations_prefix, tracking_name
from services.adapters.postgres import tracked_names
from services.adapters.prefetch import AggregateCache, PrefetchedLoader
from services.contract.commands import WorkItem
from services.contract.mapping import salvaged_identity
from services.contract.topics import ENVELOPE_HEADER, item_key
from services.domain import Answer, Loader, UnitOfWork, ids
from services.domain.commands import DEFAULT_LIMITS, Command, Item, Limits, SettlePoints
from services.domain.unit_of_work import Policies, default_policies

log = structlog.get_logger(__name__)

ATTEMPTS_PER_ITEM = 3
"""Tries of an item that fails, before it is given up (conflicts with other writers apart)."""
CONFLICTS_PER_ITEM = 10


@dataclass(frozen=True)
class ItemRecord:
    """An item of the items topic (a record's one item, or one of an envelope's): the item,
    or why it cannot be read."""

    item: Command | SettlePoints | None
    position: Position
    origin: Origin
    """The record the item came in; for an envelope's item, the envelope, unless `work` is
    None (the item alone then, as far as it could be read)."""
    problem: str | None = None
    """Why the record could not be read as an item (item None)."""
    final: bool = True
    """Whether this is the last item of its record: only then is the record's position
    stored with it (the others of an envelope are recognised again by their own position)."""
    work: WorkItem | None = None
    """The envelope's item as it came, for a dead letter about it alone."""

    def letter_origin(self) -> Origin:
        """What a dead letter about this item keeps: the record, or, for an envelope's item,
        the item alone as a version-1 record (which `loyalty deadletter replay` can send)."""
        if self.work is None:
            return self.origin
        return alone(self.origin, item_key(self.work.programme, self.work.uniq_id),
                     self.work.to_json())

    def trackings(self) -> list[Position]:
        """The position to store with this item: its record's, when it is the last of it."""
        return [self.position] if self.final else []


def alone(envelope: Origin, key: bytes | None, value: bytes) -> Origin:
    """An envelope's item as a version-1 record of its own: its key and value, at the
    envelope's coordinates, with the envelope's headers but `ENVELOPE_HEADER`."""
    return replace(envelope, key=key, value=value, headers=[
        (name, header) for name, header in envelope.headers if name != ENVELOPE_HEADER])


@dataclass(frozen=True)
class Poisoned:
    """A record that could not be applied, and the last error."""

    record: ItemRecord
    error: str
    attempts: int


class ItemProcessor:
    """Applies items to the aggregates and saves their events with the Kafka positions."""

    def __init__(self, store: EventStore, policies: Policies = default_policies,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        self.store = store
        self.cache = AggregateCache()
        self.policies = policies
        self.limits = limits

    def unit_of_work(self, load: Loader) -> UnitOfWork:
        return UnitOfWork(load, policies=self.policies, limits=self.limits)

    def stored_offset(self, topic: str, partition: int, topic_id: str | None) -> int | None:
        """The next offset to read from a partition of this incarnation of the topic, or None
        to read it from its beginning.

        Without a position for this incarnation, a position stored for another incarnation of
        the topic means it was deleted and created again (or the partition is new): read from
        the beginning. A position stored before incarnations were known (no topic id in its
        name) is this incarnation's, unless another incarnation has been seen since.
        """
        recorder = self.store.recorder
        stored = recorder.max_tracking_id(tracking_name(topic, partition, topic_id))
        if stored is not None or topic_id is None:
            return stored
        if tracked_names(recorder, incarnations_prefix(topic)):
            return None
        return recorder.max_tracking_id(tracking_name(topic, partition))

    def process(self, records: Sequence[ItemRecord]) -> tuple[int, Poisoned | None]:
        """Saves the records in order until one cannot be applied. Returns how many were
        saved, and the one that could not be (None when all were). Records of one partition
        must come in offset order."""
        readable = list(takewhile(lambda record: record.item is not None, records))
        if not readable:
            first = records[0]
            return 0, Poisoned(first, first.problem or "not an item", attempts=1)
        try:
            self.process_together(readable)
        except IntegrityError:
            log.info("batch conflicted, processing item by item", size=len(readable))
            return self.process_one_by_one(readable)
        except Exception as error:
            if is_unavailable(error):
                raise
            log.warning("batch failed, processing item by item", size=len(readable),
                        error=describe(error))
            return self.process_one_by_one(readable)
        return len(readable), None

    def process_together(self, records: Sequence[ItemRecord]) -> None:
        """Applies and saves the records in one transaction."""
        items = [record.item for record in records if record.item is not None]
        work = self.unit_of_work(PrefetchedLoader(self.store, self.cache, items))
        try:
            for record in records:
                apply(work, record)
        except Exception:
            self.cache.forget(work.pending())
            raise
        self.save(work.pending(), last_positions(records))

    def process_one_by_one(self, records: Sequence[ItemRecord]) -> tuple[int, Poisoned | None]:
        for done, record in enumerate(records):
            poisoned = self.process_one(record)
            if poisoned is not None:
                return done, poisoned
        return len(records), None

    def process_one(self, record: ItemRecord) -> Poisoned | None:
        """Saves one item in a transaction of its own; retries conflicts with other writers
        and failures, then gives the item up."""
        assert record.item is not None
        failures = conflicts = 0
        while not self.already_processed(record.position):
            work = self.unit_of_work(self.store.load)
            try:
                apply(work, record)
                self.save(work.pending(), record.trackings())
                return None
            except IntegrityError as error:
                conflicts += 1
                if conflicts >= CONFLICTS_PER_ITEM:
                    return Poisoned(record, describe(error), failures + conflicts)
            except Exception as error:
                if is_unavailable(error):
                    raise
                failures += 1
                log.warning("item failed", position=str(record.position),
                            attempt=failures, error=describe(error))
                if failures >= ATTEMPTS_PER_ITEM:
                    return Poisoned(record, describe(error), failures)
        return None

    def fail(self, poisoned: Poisoned) -> Answer | None:
        """Stores the `PROCESSING_FAILED` answer of a given-up item (when its identity can be
        read, and its guid has no answer yet) with its position: the stream goes on past it."""
        record = poisoned.record
        item = record.item if isinstance(record.item, Item) else salvaged_identity(
            record.letter_origin().value)
        for _ in range(CONFLICTS_PER_ITEM):
            if self.already_processed(record.position):
                return None
            work = self.unit_of_work(self.store.load)
            answer = None if item is None else work.fail(item, str(record.position))
            try:
                self.save(work.pending(), record.trackings())
                return answer
            except IntegrityError:
                continue
        raise RuntimeError(f"the failure of {record.position} kept conflicting")

    def dead_letter(self, poisoned: Poisoned) -> DeadLetter:
        """The dead letter of a given-up item: sealed with its customer's data key when the
        item says who the customer is (its key stored now, if it is new), so that erasing the
        customer reaches the letter too."""
        record = poisoned.record
        origin = record.letter_origin()
        letter = DeadLetter(origin, "processor", poisoned.error, poisoned.attempts)
        item = record.item if isinstance(record.item, Item) else salvaged_identity(
            origin.value)
        if item is None:
            return letter
        letter = sealed_letter(letter, self.store.keyring, ids.customer_id(item.programme,
                                                                    item.uniq_id))
        if self.store.keyring.pending:
            self.store.events.put([])  # the key made for the letter, stored before it is sent
        return letter

    def skip(self, position: Position) -> None:
        """Stores a position past a record that could not even be read (a corrupt batch)."""
        if not self.already_processed(position):
            self.save([], [position])

    def already_processed(self, position: Position) -> bool:
        """Whether the position's whole record is stored as processed (an envelope's item
        before that may still have been: its outcome knows its position)."""
        stored = self.stored_offset(position.topic, position.partition, position.topic_id)
        return stored is not None and stored > position.offset

    def save(self, aggregates: Sequence[Aggregate], positions: Sequence[Position]) -> None:
        """Stores the aggregates' new events and the positions in one transaction, then the
        snapshots they made due (outside it: the insert lock is not held for them)."""
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        try:
            self.store.events.put(events, trackings=[p.tracking() for p in positions])
        except Exception:
            self.cache.forget(aggregates)
            raise
        self.cache.keep(aggregates)
        self.store.take_due_snapshots(aggregates, events)


def apply(work: UnitOfWork, record: ItemRecord) -> None:
    """Applies one record's item (or the clock's settlement) to the unit of work."""
    match record.item:
        case SettlePoints():
            work.settle(record.item)
        case None:
            raise ValueError(record.problem or "not an item")
        case _:
            work.apply(record.item, str(record.position))


def last_positions(records: Sequence[ItemRecord]) -> list[Position]:
    """The position of the last whole record of each partition among the records."""
    last: dict[tuple[str, int], Position] = {}
    for record in records:
        if record.final:
            last[record.position.topic, record.position.partition] = record.position
    return list(last.values())
