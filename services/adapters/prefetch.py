"""Loads every aggregate a batch needs in one query, and keeps recent ones between batches.

Without this, a batch of 500 items would read the event store some 1,500 times (outcome,
customer, phone and e-mail index of each item), and every read would replay the customer's
whole history. Instead, aggregates stay in a bounded cache between batches, and one query per
batch fetches only the events recorded after the cached versions ("fast-forward"), so a
customer written meanwhile by another processor is brought up to date before it is used. An
aggregate the cache does not hold starts from its latest snapshot, if it has one (one more
query per batch, for all of them), and only the events after it are replayed.
Aggregates found during the batch (an e-mail's longest holder) are loaded one by one.
"""

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from uuid import UUID

from eventsourcing.domain import Aggregate

from services.adapters.event_store import EventStore
from services.adapters.postgres import select_latest_snapshots, select_newer_events
from services.domain import ItemOutcome, ids
from services.domain.commands import AddBonus, Command, SettlePoints


def needed_ids(items: Iterable[Command | SettlePoints]) -> set[UUID]:
    """The ids of the outcomes, customers and indexes that the items will look up."""
    wanted: set[UUID] = set()
    for item in items:
        wanted.add(ids.customer_id(item.programme, item.uniq_id))
        if isinstance(item, SettlePoints):
            continue
        wanted.add(ids.item_id(item.programme, item.guid))
        if isinstance(item, AddBonus) and item.phone:
            wanted.add(ids.phone_id(item.programme, item.phone))
        if isinstance(item, AddBonus) and item.email:
            wanted.add(ids.email_id(item.programme, item.email))
    return wanted


def customer_ids(items: Iterable[Command | SettlePoints]) -> set[UUID]:
    """The ids of the items' customers: the aggregates that have snapshots."""
    return {ids.customer_id(item.programme, item.uniq_id) for item in items}


class AggregateCache:
    """The most recently used customers and indexes, as last saved by this processor."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self.entries: OrderedDict[UUID, Aggregate] = OrderedDict()

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        found = self.entries.get(aggregate_id)
        if found is not None:
            self.entries.move_to_end(aggregate_id)
        return found

    def keep(self, aggregates: Iterable[Aggregate]) -> None:
        """Remembers saved aggregates (item outcomes are read once, so they are not kept)."""
        for aggregate in aggregates:
            if not isinstance(aggregate, ItemOutcome):
                self.entries[aggregate.id] = aggregate
                self.entries.move_to_end(aggregate.id)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def forget(self, aggregates: Iterable[Aggregate]) -> None:
        """Drops aggregates whose in-memory state may differ from the store (a failed save)."""
        for aggregate in aggregates:
            self.entries.pop(aggregate.id, None)


class PrefetchedLoader:
    """A unit of work's loader that answers from one bulk read, and falls back to the store."""

    def __init__(self, store: EventStore, cache: AggregateCache,
                 items: Sequence[Command | SettlePoints]) -> None:
        self.store = store
        store.keyring.refresh(customer_ids(items))  # an erasure elsewhere is seen at once
        self.aggregates: dict[UUID, Aggregate | None] = {
            aggregate_id: cache.get(aggregate_id) for aggregate_id in needed_ids(items)}
        self.aggregates.update(latest_snapshots(
            store, [aggregate_id for aggregate_id in customer_ids(items)
                    if self.aggregates[aggregate_id] is None]))
        known = {aggregate_id: 0 if aggregate is None else aggregate.version
                 for aggregate_id, aggregate in self.aggregates.items()}
        for stored in select_newer_events(store.recorder, known):
            aggregate_id = UUID(str(stored.originator_id))
            event = store.mapper.to_domain_event(stored)
            self.aggregates[aggregate_id] = event.mutate(self.aggregates[aggregate_id])  # type: ignore[attr-defined]

    def __call__(self, aggregate_id: UUID) -> Aggregate | None:
        if aggregate_id in self.aggregates:
            return self.aggregates[aggregate_id]
        return self.store.load(aggregate_id)


def latest_snapshots(store: EventStore, aggregate_ids: Sequence[UUID]) -> dict[UUID, Aggregate]:
    """These aggregates as their latest snapshots left them (those without a current one are
    left out), in one query."""
    if store.snapshots is None or not aggregate_ids:
        return {}
    restored: dict[UUID, Aggregate] = {}
    for stored in select_latest_snapshots(store.snapshots.recorder, aggregate_ids):
        snapshot = store.snapshots.restorable(stored)
        aggregate = None if snapshot is None else snapshot.mutate(None)
        if isinstance(aggregate, Aggregate):
            restored[aggregate.id] = aggregate
    return restored
