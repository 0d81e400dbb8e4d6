"""Snapshots of customers: a customer restored from a snapshot is the one its events make, and
a snapshot that the running code would misread is never used."""

import dataclasses
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import JSONTranscoder, StoredEvent

from services import bootstrap
from services.adapters.event_store import EventStore, register_transcodings
from services.adapters.snapshots import STATE_TYPES, snapshot_of
from services.domain import Customer, ids
from services.domain.commands import Limits
from tests.support.domain import World, add, earn, every_event, spend
from tests.support.state import state_of, typed

CUSTOMER = ids.customer_id("default", "u1")

LAYOUT_OF_CLASS_VERSION_2 = {
    "Customer": ["programme", "uniq_id", "status", "phone", "email", "wallet", "messages",
                 "activated_on", "blocked_on", "erased_on", "link_version"],
    "Wallet": ["lots: dict[str, Lot]", "closed: dict[str, Lot]", "spends: dict[str, Spend]",
               "balances: Balances"],
    "Lot": ["guid: str", "amount: Decimal", "event_date: datetime",
            "available_from: datetime | None", "expires_at: datetime | None",
            "remaining: Decimal", "spent: Decimal", "expired: Decimal", "reversed: Decimal",
            "reversed_spent: Decimal", "pending: bool", "lapsed: bool", "credit: bool"],
    "Spend": ["guid: str", "amount: Decimal", "allocations: list[tuple[str, Decimal]]",
              "cancelled: Decimal"],
    "Balances": ["active: Decimal", "pending: Decimal", "debt: Decimal"],
    "QueuedMessage": ["message_id: str", "text: str", "shows_left: int",
                      "show_till: datetime | None", "show_count: int"],
}
"""What a snapshot of a customer holds at `Customer.class_version` 2 (1 had no `erased_on`)."""


def through_the_store(store: EventStore, aggregate: Any) -> Any:
    """The aggregate as its snapshot, stored as bytes and read back, restores it."""
    stored = store.mapper.to_stored_event(snapshot_of(aggregate))
    return store.mapper.to_domain_event(stored).mutate(None)


def replayed(store: EventStore, aggregate_id: UUID, version: int | None = None) -> Any:
    """The aggregate made by its events alone (up to `version`)."""
    aggregate = None
    for event in store.events.get(aggregate_id, lte=version):
        aggregate = event.mutate(aggregate)
    return aggregate


def snapshotting_world(interval: int) -> World:
    world = World()
    world.store = bootstrap.in_memory_event_store(snapshot_interval=interval)
    return world


def bounded_life(world: World) -> None:
    """A life long enough for the customer's bounds to forget its oldest lots and spends."""
    for n in range(16):
        expiring = world.now + timedelta(hours=2) if n % 3 == 0 else None
        world.one(earn("u1", "3", guid=f"a{n}", expires_at=expiring))
        if n % 2:
            world.one(spend("u1", "2"))
        if n % 4 == 3:
            world.now += timedelta(hours=3)
            world.settle("u1")
    assert "LotsForgotten" in world.event_names("u1")


LIVES = {
    "every event": (World, every_event),
    "bounded": (lambda: World(limits=Limits(max_closed_lots=2, max_spends=2)), bounded_life),
}


@pytest.mark.parametrize("life", LIVES.values(), ids=LIVES.keys())
def test_a_customer_restored_from_a_snapshot_at_any_version_is_the_one_its_events_make(
    life: tuple[Callable[[], World], Callable[[World], None]],
) -> None:
    new_world, live = life
    world = new_world()
    live(world)
    versions = len(world.events(CUSTOMER))

    for version in range(1, versions + 1):
        customer = replayed(world.store, CUSTOMER, version)
        assert state_of(through_the_store(world.store, customer)) == state_of(customer), version


def test_a_store_with_snapshots_loads_every_version_as_its_events_make_it() -> None:
    world = snapshotting_world(interval=4)
    every_event(world)
    store = world.store
    assert store.snapshots is not None

    snapshots = list(store.snapshots.get(CUSTOMER))
    assert len(snapshots) >= 3
    assert all(isinstance(snapshot, Snapshot) for snapshot in snapshots)
    for version in range(1, len(world.events(CUSTOMER)) + 1):
        from_snapshot = store.repository.get(CUSTOMER, version=version)
        assert state_of(from_snapshot) == state_of(replayed(store, CUSTOMER, version)), version
    assert state_of(world.customer("u1")) == state_of(replayed(store, CUSTOMER))


def wrong_snapshot_of(store: EventStore) -> Snapshot:
    """A snapshot of the customer at its version, but with a state its events never made."""
    customer = replayed(store, CUSTOMER)
    customer.link_version = 99
    return snapshot_of(customer)


def test_a_snapshot_of_another_class_version_is_ignored_and_the_events_are_replayed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = snapshotting_world(interval=1000)
    every_event(world)
    store = world.store
    assert store.snapshots is not None
    older = wrong_snapshot_of(store)
    store.snapshots.put([older])
    monkeypatch.setattr(Customer, "class_version", Customer.class_version + 1)  # the layout changed

    assert list(store.snapshots.get(CUSTOMER)) == []
    assert store.repository.get(CUSTOMER).link_version == 1


def test_a_snapshot_written_by_newer_code_is_ignored_by_older_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = snapshotting_world(interval=1000)
    every_event(world)
    store = world.store
    assert store.snapshots is not None
    with monkeypatch.context() as newer_code:
        newer_code.setattr(Customer, "class_version", Customer.class_version + 1)
        store.snapshots.put([wrong_snapshot_of(store)])
        assert len(list(store.snapshots.get(CUSTOMER))) == 1

    assert list(store.snapshots.get(CUSTOMER)) == []
    assert store.repository.get(CUSTOMER).link_version == 1


def test_a_snapshot_that_no_longer_decodes_is_ignored() -> None:
    world = snapshotting_world(interval=1000)
    every_event(world)
    store = world.store
    assert store.snapshots is not None
    stored = store.mapper.to_stored_event(wrong_snapshot_of(store))
    gone = stored.state.replace(b'"_type_":"Wallet"', b'"_type_":"Purse"')
    assert gone != stored.state
    store.snapshots.recorder.insert_events([StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, gone)])

    assert list(store.snapshots.get(CUSTOMER)) == []
    assert store.repository.get(CUSTOMER).link_version == 1


def type_name(hint: Any) -> str:
    """A type as its annotation reads (`dict[str, Lot]`, `datetime | None`)."""
    return hint.__name__ if isinstance(hint, type) else re.sub(r"[\w.]+\.(\w+)", r"\1", str(hint))


def test_the_layout_of_a_customer_snapshot_changes_only_with_its_class_version() -> None:
    """A snapshot holds the customer's `__dict__`: change what is in it (an attribute, a field
    of its dataclasses, or what an event does to them) and old snapshots would be misread.
    Raise `Customer.class_version` with such a change (snapshots of the old version are then
    ignored), and pin the new layout here."""
    customer = Customer.register(add("u1"))
    own = [name for name in vars(customer) if not name.startswith("_")]
    layout = {"Customer": own} | {
        name: [f"{field.name}: {type_name(field.type)}" for field in dataclasses.fields(cls)]
        for name, cls in STATE_TYPES.items()}

    assert (getattr(Customer, "class_version", 1), layout) == (2, LAYOUT_OF_CLASS_VERSION_2)


def test_the_compiled_transcoder_writes_and_reads_a_wallet_as_the_library_does() -> None:
    world = World()
    every_event(world)
    wallet = {"wallet": replayed(world.store, CUSTOMER).wallet}
    library = JSONTranscoder()
    register_transcodings(library)
    compiled = world.store.mapper.transcoder

    assert compiled.encode(wallet) == library.encode(wallet)
    assert library.decode(compiled.encode(wallet)) == compiled.decode(compiled.encode(wallet))
    assert typed(compiled.decode(compiled.encode(wallet))) == typed(wallet)
