"""Loads every aggregate a batch needs in one query, and keeps recent ones between batches.

Without this, a batch of 500 items would read the event store some 1,500 times (outcome,
customer, phone and e-mail index of each item), and every read would replay the customer's
whole history. Instead, aggregates stay in a bounded cache between batches, and one query per
batch fetches only the events recorded after the cached versions ("fast-forward"), so a
customer written meanwhile by another processor is brought up to date before it is used.
Aggregates found during the batch (an e-mail's longest holder) are loaded one by one.
"""

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from psycopg import sql
from psycopg.rows import tuple_row

from events.commands import WorkItem
from services.customers import ids
from services.customers.application import CustomerApplication
from services.customers.domain import ItemOutcome


def needed_ids(items: Iterable[WorkItem]) -> set[UUID]:
    """The ids of the outcomes, customers and indexes that the items will look up."""
    wanted: set[UUID] = set()
    for item in items:
        wanted.add(ids.item_id(item.programme, item.guid))
        wanted.add(ids.customer_id(item.programme, item.uniq_id))
        if item.phone:
            wanted.add(ids.phone_id(item.programme, item.phone))
        if item.email:
            wanted.add(ids.email_id(item.programme, item.email))
    return wanted


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
    """A book's loader that answers from one bulk read, and falls back to the application."""

    def __init__(self, app: CustomerApplication, cache: AggregateCache,
                 items: Sequence[WorkItem]) -> None:
        self.app = app
        wanted = needed_ids(items)
        self.aggregates: dict[UUID, Aggregate | None] = {i: cache.get(i) for i in wanted}
        for stored in self.newer_events():
            aggregate_id = UUID(str(stored.originator_id))
            event = app.mapper.to_domain_event(stored)
            self.aggregates[aggregate_id] = event.mutate(self.aggregates[aggregate_id])  # type: ignore[attr-defined]

    def __call__(self, aggregate_id: UUID) -> Aggregate | None:
        if aggregate_id in self.aggregates:
            return self.aggregates[aggregate_id]
        return self.app.load(aggregate_id)

    def newer_events(self) -> list[StoredEvent]:
        """Events after each known version (after version 0 for aggregates not cached)."""
        recorder = self.app.recorder
        query = sql.SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {}.{} e "
            "JOIN unnest(%s::uuid[], %s::int[]) AS known(id, version) "
            "ON e.originator_id = known.id AND e.originator_version > known.version "
            "ORDER BY e.originator_id, e.originator_version"
        ).format(sql.Identifier(recorder.datastore.schema),  # type: ignore[attr-defined]
                 sql.Identifier(recorder.events_table_name))  # type: ignore[attr-defined]
        known = list(self.aggregates.items())
        versions = [0 if aggregate is None else aggregate.version for _, aggregate in known]
        with (recorder.datastore.get_connection() as conn,  # type: ignore[attr-defined]
              conn.cursor(row_factory=tuple_row) as cursor):
            cursor.execute(query, ([str(aggregate_id) for aggregate_id, _ in known], versions))
            return [StoredEvent(row[0], row[1], row[2], bytes(row[3]))
                    for row in cursor.fetchall()]
