"""The processor's batch read through PostgreSQL: it reads only its aggregates' rows, on true
statistics and on far too few distinct ids alike (written as a join, it hashed or sorted the
whole events table for every batch). The followers' reads, in binary, return what the
library's `select_notifications` does."""

import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from services import bootstrap
from services.adapters.event_store import EventStore
from services.adapters.postgres import (
    events_table,
    newer_events_query,
    select_final_notifications,
    select_newer_events,
    select_notifications,
)
from services.settings import Settings
from tests.conftest import scratch_database

pytestmark = pytest.mark.integration

AGGREGATES = 20_000
EVENTS_EACH = 3


@pytest.fixture(scope="module")
def store(postgres_server_dsn: str) -> Iterator[tuple[str, EventStore]]:
    """An event store of 20,000 aggregates with three events each."""
    for dsn in scratch_database(postgres_server_dsn):
        event_store = bootstrap.event_store(Settings(postgres_dsn=dsn), create_tables=True)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL(
                "INSERT INTO {} (originator_id, originator_version, topic, state) "
                "SELECT md5(a::text)::uuid, v, 'bench:Event', '\\x7b7d'::bytea "
                "FROM generate_series(1, %s) a, generate_series(1, %s) v"
            ).format(events_table(event_store.recorder)), (AGGREGATES, EVENTS_EACH))
        yield dsn, event_store
        event_store.close()


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from plan_nodes(child)


@pytest.mark.parametrize("n_distinct", [-1 / EVENTS_EACH, 10], ids=["true", "far too few"])
def test_the_batch_read_probes_the_primary_key_for_each_aggregate(
        store: tuple[str, EventStore], n_distinct: float) -> None:
    """With true statistics a join chose to hash the whole table; with statistics that say an
    aggregate has thousands of events (a table that grew since its last ANALYZE), to read it
    whole in key order. The batch read looks up each of its aggregates under both."""
    dsn, event_store = store
    ids = [str(uuid.uuid5(uuid.NAMESPACE_OID, str(index))) for index in range(1_500)]
    ids[::3] = [md5_uuid(index) for index in range(1, 501)]  # a third of them stored
    with psycopg.connect(dsn, autocommit=True) as conn:
        table = events_table(event_store.recorder)
        conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN originator_id SET (n_distinct = {})"
                             ).format(table, sql.Literal(n_distinct)))
        conn.execute(sql.SQL("ANALYZE {}").format(table))
        query = sql.SQL("EXPLAIN (FORMAT JSON) ") + newer_events_query(event_store.recorder)
        (explained,), = conn.execute(query, (ids, [0] * len(ids))).fetchall()
    nodes = list(plan_nodes(explained[0]["Plan"]))
    shown = json.dumps(explained, indent=1)
    recorder: Any = event_store.recorder
    name = recorder.events_table_name
    assert not any(node["Node Type"].endswith("Seq Scan") for node in nodes), shown
    probes = [node for node in nodes if node["Node Type"].endswith("Index Scan")]
    assert probes, shown
    assert all("known.id" in node.get("Index Cond", "") for node in probes), shown
    assert any(node.get("Relation Name") == name for node in nodes), shown


def test_the_batch_read_brings_each_aggregate_after_its_known_version_in_order(
        store: tuple[str, EventStore]) -> None:
    _, event_store = store
    stored = {uuid.UUID(md5_uuid(index)): index % EVENTS_EACH for index in range(1, 301)}
    absent = {uuid.uuid5(uuid.NAMESPACE_OID, str(index)): 0 for index in range(300)}

    found = select_newer_events(event_store.recorder, stored | absent)

    expected = sorted((str(aggregate_id), version) for aggregate_id, known in stored.items()
                      for version in range(known + 1, EVENTS_EACH + 1))
    assert [(str(event.originator_id), event.originator_version) for event in found] == expected


def md5_uuid(index: int) -> str:
    """The id the fixture gave its `index`th aggregate."""
    return str(uuid.UUID(hashlib.md5(str(index).encode()).hexdigest()))


def test_the_followers_binary_reads_return_what_the_librarys_read_does(
        store: tuple[str, EventStore]) -> None:
    dsn, event_store = store
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL(
            "INSERT INTO {} (originator_id, originator_version, topic, state) "
            "SELECT gen_random_uuid(), 1, 'other:Event', '\\x01ff'::bytea "
            "FROM generate_series(1, 50)").format(events_table(event_store.recorder)))
    recorder: Any = event_store.recorder
    head = recorder.max_notification_id()
    after, last = head - 120, head - 10
    cases = [(after, 500, None, ()), (after, 40, None, ()), (after, 500, last, ()),
             (after, 500, last, ("other:Event",)), (after, 25, None, ("bench:Event",))]
    for start, limit, stop, topics in cases:
        ours = select_notifications(recorder, start, limit, stop, topics)
        library = recorder.select_notifications(start=start, limit=limit, stop=stop,
                                                topics=topics, inclusive_of_start=False)
        assert ours == list(library), (start, limit, stop, topics)
        assert ours, "every case finds something"
    assert select_final_notifications(recorder, after, last) == list(
        recorder.select_notifications(start=after, limit=1000, stop=last,
                                      inclusive_of_start=False))
