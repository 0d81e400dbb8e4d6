"""Snapshots through PostgreSQL: the processor's path (one query for the batch's snapshots, one
for the events after them) and the repository give the same customer with snapshots and
without, and the past is the one its events made."""

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from services import bootstrap
from services.adapters import prefetch
from services.adapters.dead_letters import Origin
from services.adapters.event_store import EventStore
from services.adapters.positions import Position
from services.adapters.prefetch import AggregateCache, PrefetchedLoader
from services.api.history import EventFilter, History
from services.domain import ids
from services.domain.commands import Command, Message, SettlePoints
from services.processor.batches import ItemProcessor, ItemRecord
from services.settings import Settings
from tests.conftest import scratch_database
from tests.support.domain import (
    PHONE_A,
    PHONE_B,
    activate,
    add,
    authorize,
    block,
    cancel,
    earn,
    reverse,
    revoke_links,
    spend,
)
from tests.support.state import state_of

pytestmark = pytest.mark.integration

TOPIC = "loyalty.items"
INTERVAL = 4
CUSTOMER = ids.customer_id("default", "u1")


@pytest.fixture
def dsn(postgres_server_dsn: str) -> Iterator[str]:
    yield from scratch_database(postgres_server_dsn)


def settings(dsn: str, interval: int) -> Settings:
    return Settings(postgres_dsn=dsn, snapshot_interval=interval)


@pytest.fixture
def stores(dsn: str) -> Iterator[tuple[EventStore, EventStore]]:
    """The same database with snapshots (every INTERVAL events) and without."""
    with_snapshots = bootstrap.event_store(settings(dsn, INTERVAL), create_tables=True)
    without = bootstrap.event_store(settings(dsn, 0))
    yield with_snapshots, without
    with_snapshots.close()
    without.close()


def life(now: datetime) -> list[list[Command | SettlePoints]]:
    """Batches of one customer's life that record every kind of event and change every part
    of its state: lots (pending, active, expired, reversed, a credit), spends, messages."""
    first = "first-accrual"
    return [
        [add("u1", guid=first, phone=PHONE_A, email="Ann@Example.com", amount="100.00",
             message=Message(text="hi", show_count=2, show_till=None)),
         earn("u1", "50.50", guid="later", available_from=now + timedelta(days=1),
              expires_at=now + timedelta(days=10))],
        [authorize("u1"), add("u1", phone=PHONE_B, email="ann@example.org")],
        [spend("u1", "30", guid="spend-1"), cancel("u1", "spend-1", "10")],
        [reverse("u1", first, "100.00"), earn("u1", "7.25")],
        [SettlePoints("default", "u1", now + timedelta(days=2))],
        [SettlePoints("default", "u1", now + timedelta(days=20)), block("u1")],
        [activate("u1"), revoke_links("u1"), earn("u1", "1.00")],
        [earn("u1", "2.00"), authorize("u1")],
    ]


def records(batch: list[Command | SettlePoints], first_offset: int) -> list[ItemRecord]:
    return [ItemRecord(item, Position(TOPIC, 0, offset), Origin(TOPIC, 0, offset, value=b"{}"))
            for offset, item in enumerate(batch, start=first_offset)]


def process(processor: ItemProcessor, batches: list[list[Command | SettlePoints]],
            offset: int = 0) -> int:
    """Processes the batches in order from `offset`; returns the offset after them."""
    for batch in batches:
        assert processor.process(records(batch, offset)) == (len(batch), None)
        offset += len(batch)
    return offset


def live_past_a_snapshot(processor: ItemProcessor) -> None:
    """The customer's life, ending with events after its latest snapshot."""
    offset = process(processor, life(datetime.now(UTC)))
    while processor.store.repository.get(CUSTOMER).version % INTERVAL == 0:
        offset = process(processor, [[authorize("u1")]], offset)


def prefetched(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, int]:
    """The customer as a cold processor's batch loads it, and the version its events were
    replayed after (that of the snapshot it started from; 0: none)."""
    known: dict[UUID, int] = {}

    def spied(recorder: Any, versions: Mapping[UUID, int]) -> Any:
        known.update(versions)
        return select_newer_events(recorder, versions)

    select_newer_events = prefetch.select_newer_events
    with monkeypatch.context() as patched:
        patched.setattr(prefetch, "select_newer_events", spied)
        loader = PrefetchedLoader(store, AggregateCache(),
                                  [SettlePoints("default", "u1", datetime.now(UTC))])
    return loader(CUSTOMER), known[CUSTOMER]


def test_the_processor_and_the_repository_load_the_same_customer_with_snapshots_and_without(
    stores: tuple[EventStore, EventStore], monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_snapshots, without = stores
    processor = ItemProcessor(with_snapshots)
    live_past_a_snapshot(processor)
    assert with_snapshots.snapshots is not None
    latest = max(snapshot.originator_version
                 for snapshot in with_snapshots.snapshots.get(CUSTOMER))

    replayed = without.load(CUSTOMER)
    assert replayed is not None and 0 < latest < replayed.version  # a snapshot, then events
    from_snapshot, started_after = prefetched(with_snapshots, monkeypatch)
    from_events, replayed_after = prefetched(without, monkeypatch)
    assert (started_after, replayed_after) == (latest, 0)
    expected = state_of(replayed)
    assert state_of(processor.cache.get(CUSTOMER)) == expected
    assert state_of(with_snapshots.load(CUSTOMER)) == expected
    assert state_of(from_snapshot) == expected
    assert state_of(from_events) == expected


def test_a_processor_that_starts_cold_goes_on_from_the_latest_snapshot(
    stores: tuple[EventStore, EventStore],
) -> None:
    with_snapshots, without = stores
    batches = life(datetime.now(UTC))
    offset = process(ItemProcessor(with_snapshots), batches[:-1])

    restarted = ItemProcessor(with_snapshots)  # its cache is empty
    process(restarted, batches[-1:], offset)

    assert state_of(restarted.cache.get(CUSTOMER)) == state_of(without.load(CUSTOMER))


def test_the_past_and_the_history_pages_are_the_same_with_snapshots_and_without(
    dsn: str, stores: tuple[EventStore, EventStore],
) -> None:
    with_snapshots, without = stores
    process(ItemProcessor(with_snapshots), life(datetime.now(UTC)))
    events = list(without.events.get(CUSTOMER))
    histories = [History(lambda: bootstrap.event_store(settings(dsn, INTERVAL))),
                 History(lambda: bootstrap.event_store(settings(dsn, 0)))]
    try:
        for history in histories:
            assert history.as_of("default", "u1", events[0].timestamp - timedelta(
                microseconds=1)) is None
            for event in events:
                past = history.as_of("default", "u1", event.timestamp)
                by_then = max(earlier.originator_version for earlier in events
                              if earlier.timestamp <= event.timestamp)
                assert past is not None and state_of(past) == state_of(
                    without.repository.get(CUSTOMER, version=by_then)), by_then
            for since, until in [(events[3].timestamp, None), (None, events[9].timestamp),
                                 (events[2].timestamp, events[12].timestamp)]:
                wanted = EventFilter(frozenset(), since, until)
                expected = [event.originator_version for event in events if wanted.admits(event)]
                page = history.page("default", "u1", 0, 1000, wanted)
                assert page is not None
                assert [event.originator_version for event in page[0]] == expected
    finally:
        for history in histories:
            history.close()
