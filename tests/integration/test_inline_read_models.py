"""The processor folds what it stores into the read models, in the same transaction, against a
real PostgreSQL: the read models are never behind, a failed fold loses nothing (the projections
service catches up), and the service never folds an event twice when the processor overtakes it.
Every outcome is compared, row by row, with a rebuild from the event store."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from projections.runner import (
    ReadModelRunner,
    create_tables,
    follow,
    projection_env,
    rebuild,
)
from projections.schema import SCHEMA
from projections.view import EVENT_TABLES, OvertakenError, ReadModelView
from services import bootstrap
from services.adapters.dead_letters import Origin
from services.adapters.event_store import EventStore
from services.adapters.positions import Position
from services.contract.mapping import command_of
from services.processor.batches import ItemProcessor, ItemRecord
from services.settings import Settings
from tests.conftest import scratch_database
from tests.support.workload import workload

pytestmark = pytest.mark.integration

TOPIC = "loyalty.items"
BATCH = 200


@pytest.fixture
def settings(postgres_server_dsn: str) -> Iterator[Settings]:
    for dsn in scratch_database(postgres_server_dsn):
        settings = Settings(postgres_dsn=dsn, postgres_owner_dsn=dsn)
        bootstrap.event_store(settings, create_tables=True).close()
        create_tables(settings)
        yield settings


@pytest.fixture
def store(settings: Settings) -> Iterator[EventStore]:
    opened = bootstrap.event_store(settings)
    yield opened
    opened.close()


@pytest.fixture
def inline(settings: Settings) -> Iterator[ReadModelView]:
    view = bootstrap.inline_read_models(settings)
    assert view is not None
    yield view
    view.datastore.close()


class Feeder:
    """The workload, batch by batch, at consecutive offsets, as the consumer hands it over."""

    def __init__(self) -> None:
        self.items = workload()
        self.offset = 0

    def next_batch(self) -> list[ItemRecord]:
        batch = []
        for item in self.items[self.offset:self.offset + BATCH]:
            position = Position(TOPIC, 0, self.offset)
            batch.append(ItemRecord(command_of(item), position, Origin(TOPIC, 0, self.offset)))
            self.offset += 1
        return batch

    def done(self) -> bool:
        return self.offset >= len(self.items)


def feed(processor: ItemProcessor, feeder: Feeder, batches: int) -> None:
    for _ in range(batches):
        assert processor.process(feeder.next_batch())[1] is None


def position_and_head(view: ReadModelView) -> tuple[int, int]:
    return view.max_tracking_id("loyalty") or 0, view.head()


def read_models(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(settings.postgres_dsn) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in EVENT_TABLES}


def assert_rebuild_gives_the_same(settings: Settings) -> None:
    folded = read_models(settings)
    assert all(folded.values())
    rebuild(settings)
    rebuilt = read_models(settings)
    for table in EVENT_TABLES:
        assert folded[table] == rebuilt[table], table


def test_the_read_models_hold_every_batch_the_processor_stored_without_the_service(
    settings: Settings, store: EventStore, inline: ReadModelView
) -> None:
    processor = ItemProcessor(store, read_models=inline)
    feeder = Feeder()

    while not feeder.done():
        feed(processor, feeder, 1)
        position, head = position_and_head(inline)
        assert position == head > 0

    assert_rebuild_gives_the_same(settings)


def test_a_fold_that_fails_loses_nothing_and_the_service_catches_up(
    settings: Settings, store: EventStore, inline: ReadModelView
) -> None:
    processor = ItemProcessor(store, read_models=inline)
    feeder = Feeder()
    feed(processor, feeder, 2)
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {SCHEMA}.bonus_operations RENAME TO away")
        feed(processor, feeder, 1)  # its events are stored, its fold fails
        conn.execute(f"ALTER TABLE {SCHEMA}.away RENAME TO bonus_operations")
    position, head = position_and_head(inline)
    assert position < head, "the failed fold must have left the read models behind"
    assert store.recorder.max_tracking_id(f"kafka:{TOPIC}:0") == feeder.offset

    feed(processor, feeder, 1)  # behind: left to the service
    assert position_and_head(inline)[0] == position

    stop = threading.Event()
    service = threading.Thread(target=follow, args=(settings, stop))
    service.start()
    try:
        deadline = time.monotonic() + 60
        while not inline.caught_up():
            assert time.monotonic() < deadline, position_and_head(inline)
            time.sleep(0.05)
        feed(processor, feeder, 2)  # up to date again: the processor folds once more
        assert inline.caught_up()
    finally:
        stop.set()
        service.join()

    assert_rebuild_gives_the_same(settings)


def test_the_service_overtaken_by_the_processor_folds_nothing_twice(
    settings: Settings, store: EventStore, inline: ReadModelView
) -> None:
    feeder = Feeder()
    feed(ItemProcessor(store), feeder, 2)  # stored, not folded
    overtaken = False
    try:
        with ReadModelRunner(projection_env(settings)) as runner:
            deadline = time.monotonic() + 60
            while not runner.view.caught_up():
                assert time.monotonic() < deadline
                runner.run_forever(timeout=0.05)
            feed(ItemProcessor(store, read_models=inline), feeder, 2)  # folded inline
            while time.monotonic() < deadline and not runner.is_interrupted.is_set():
                runner.run_forever(timeout=0.05)
    except OvertakenError:
        overtaken = True
    assert overtaken, "the service must have seen the processor's events after it folded them"
    assert inline.caught_up()

    assert_rebuild_gives_the_same(settings)
