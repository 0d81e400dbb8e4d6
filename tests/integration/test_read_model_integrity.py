"""The read models never silently diverge from the event store, against a real PostgreSQL.

- a follower never passes over a notification id whose insert is still in flight, even one
  made without eventsourcing's insert lock, and passes over an id only once it is proven never
  to come (a rolled-back insert);
- the writer quarantines an event the database refuses and writes every other one;
- two writers at once never fold an event twice;
- `loyalty projections verify` passes a healthy store and finds every damaged row.
"""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from projections.schema import QUARANTINE, SCHEMA
from projections.verify import Scope, verify_read_models
from projections.view import EVENT_TABLES
from projections.writer import ReadModelWriter
from services import bootstrap
from services.adapters.event_store import EventStore
from services.adapters.following import EventLog, Step
from services.contract.commands import CommandType, WorkItem
from services.domain.commands import Accrual
from services.settings import Settings
from tests.conftest import scratch_database
from tests.support.workload import record, workload

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(postgres_server_dsn: str) -> Iterator[Settings]:
    for dsn in scratch_database(postgres_server_dsn):
        settings = Settings(postgres_dsn=dsn, postgres_owner_dsn=dsn)
        bootstrap.event_store(settings, create_tables=True).close()
        bootstrap.create_read_model_tables(settings)
        yield settings


@pytest.fixture
def store(settings: Settings) -> Iterator[EventStore]:
    opened = bootstrap.event_store(settings)
    yield opened
    opened.close()


@pytest.fixture
def writer(settings: Settings) -> Iterator[ReadModelWriter]:
    opened = bootstrap.read_models_writer(settings)
    yield opened
    opened.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def rows(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(settings.postgres_dsn) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in EVENT_TABLES}


RAW_INSERT = ("INSERT INTO public.loyalty_events (originator_id, originator_version, topic, "
              "state) VALUES (%s, 1, %s, %s) RETURNING notification_id")


def raw_insert(conn: psycopg.Connection[Any], topic: str, state: bytes) -> int:
    """An insert as a careless writer would make it: without eventsourcing's table lock."""
    row = conn.execute(RAW_INSERT, (uuid.uuid4(), topic, state)).fetchone()
    assert row is not None
    return int(row[0])


def share_lock_waiting(settings: Settings) -> bool:
    with psycopg.connect(settings.postgres_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks WHERE mode = 'ShareLock' "
                           "AND NOT granted AND locktype = 'relation'").fetchone()
        return bool(row and row[0])


@pytest.mark.parametrize("ending", ["commit", "rollback"])
def test_a_follower_never_passes_over_an_insert_still_in_flight(
    settings: Settings, store: EventStore, ending: str
) -> None:
    record(store, workload()[:50])
    log = EventLog(store)
    head = log.read(0).position
    template = store.recorder.select_notifications(start=1, limit=1)[0]
    with psycopg.connect(settings.postgres_dsn) as slow, \
            psycopg.connect(settings.postgres_dsn, autocommit=True) as fast:
        in_flight = raw_insert(slow, template.topic, template.state)  # not committed yet
        committed = raw_insert(fast, template.topic, template.state)
        assert committed == in_flight + 1 == head + 2
        seen_now = store.recorder.select_notifications(start=head, limit=10,
                                                       inclusive_of_start=False)
        assert [n.id for n in seen_now] == [committed], "the hole is there to be passed over"

        stepped: list[Step] = []
        reader = threading.Thread(target=lambda: stepped.append(log.read(head)))
        reader.start()
        wait_until(lambda: share_lock_waiting(settings), 10,
                   "the follower to wait for the insert in flight")
        assert not stepped, "the follower moved while an insert below its step was in flight"
        slow.commit() if ending == "commit" else slow.rollback()
        reader.join(timeout=10)

    (step,) = stepped
    assert step.position == committed
    if ending == "commit":
        assert [n.id for n in step.notifications] == [in_flight, committed]
        assert step.holes == 0
    else:
        assert [n.id for n in step.notifications] == [committed]
        assert step.holes == 1


def test_contiguous_ids_are_followed_without_waiting(store: EventStore) -> None:
    record(store, workload()[:50])
    step = EventLog(store).read(0)
    assert step.holes == 0
    assert [n.id for n in step.notifications] == list(range(1, step.position + 1))


def refused_accrual() -> WorkItem:
    """An accrual whose operation amount PostgreSQL cannot hold (stored before stage 1 bounded
    decimals, or by another producer of items)."""
    return WorkItem(command_id="c-odd", type_of_command=CommandType.ADD_BONUS_EXT_QUICK,
                    programme="alpha", guid="odd-guid", uniq_id="odd-customer",
                    accrual=Accrual(amount=Decimal("5"), event_id="e-odd",
                                    event_date=datetime(2026, 1, 1, tzinfo=UTC),
                                    event_type="operation",
                                    operation_amount=Decimal("0E-20000")))


def test_an_event_the_database_refuses_is_quarantined_and_every_other_one_is_written(
    settings: Settings, store: EventStore, writer: ReadModelWriter
) -> None:
    items = workload()[:300]
    record(store, [*items[:100], refused_accrual(), *items[100:]])
    head = writer.catch_up()
    assert head == store.recorder.max_notification_id()

    with psycopg.connect(settings.postgres_dsn) as conn:
        quarantined = conn.execute(f"SELECT topic, error FROM {QUARANTINE}").fetchall()
        customers = conn.execute(f"SELECT count(*) FROM {SCHEMA}.customers").fetchone()
    assert len(quarantined) == 1
    assert "PointsAccrued" in quarantined[0][0] and "refused" in quarantined[0][1]
    assert customers is not None and customers[0] > 100, "the events after it were written"

    report = verify_read_models(bootstrap.read_models_writer(settings), Scope())
    assert report.quarantined == 1
    assert {d.table for d in report.differences} <= {"quarantine", "bonus_operations",
                                                     "customers", "lots"}
    odd_only = verify_read_models(bootstrap.read_models_writer(settings),
                                  Scope(programme="alpha", customer="odd-customer"))
    assert odd_only.differences and report.aggregates > odd_only.aggregates == 1
    others = verify_read_models(bootstrap.read_models_writer(settings), Scope(programme="beta"))
    assert others.ok, others.differences


def test_two_writers_at_once_never_fold_an_event_twice(
    settings: Settings, store: EventStore
) -> None:
    record(store, workload()[:600])
    writers = [bootstrap.read_models_writer(settings) for _ in range(2)]
    for one in writers:
        one.events.limit = 25
    head = store.recorder.max_notification_id() or 0
    try:
        threads = [threading.Thread(target=one.catch_up, args=(head,)) for one in writers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for one in writers:
            one.close()
    together = rows(settings)
    assert bootstrap.rebuild_read_models(settings) == head
    assert rows(settings) == together
    assert verify_read_models(bootstrap.read_models_writer(settings), Scope()).ok


def loyalty(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOYALTY_POSTGRES_DSN": settings.postgres_dsn,
           "LOYALTY_POSTGRES_OWNER_DSN": settings.postgres_owner_dsn, "LOYALTY_LOG_JSON": "0"}
    return subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_verify_passes_a_healthy_store_and_finds_every_damaged_row(
    settings: Settings, store: EventStore, writer: ReadModelWriter
) -> None:
    record(store, workload()[:400])
    writer.catch_up()
    healthy = loyalty(settings, "projections", "verify")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert " 0 differences" in healthy.stdout

    with psycopg.connect(settings.postgres_dsn) as conn:
        damaged = conn.execute(
            f"UPDATE {SCHEMA}.customers SET balance = balance + 0.52 WHERE customer_id = "
            f"(SELECT customer_id FROM {SCHEMA}.customers ORDER BY 1 LIMIT 1) "
            "RETURNING customer_id").fetchone()
        lost = conn.execute(
            f"DELETE FROM {SCHEMA}.bonus_operations WHERE id = (SELECT min(id) FROM "
            f"{SCHEMA}.bonus_operations) RETURNING id").fetchone()
        conn.execute(f"UPDATE {SCHEMA}.messages SET shows_left = shows_left + 1 WHERE "
                     f"message_id = (SELECT min(message_id) FROM {SCHEMA}.messages)")
        conn.execute(f"DELETE FROM {SCHEMA}.customers WHERE customer_id = (SELECT customer_id "
                     f"FROM {SCHEMA}.customers WHERE customer_id <> %s ORDER BY 1 DESC "
                     "LIMIT 1)", (damaged[0] if damaged else None,))
    assert damaged and lost

    found = loyalty(settings, "projections", "verify", "--json")
    assert found.returncode == 1, found.stdout + found.stderr
    report = json.loads(found.stdout)
    tables = {(d["table"], d["what"].split(":")[0]) for d in report["differences"]}
    assert ("customers", "balance") in tables
    assert ("bonus_operations", "missing from the read models") in tables
    assert ("messages", "shows_left") in tables
    assert ("customers", "missing from the read models") in tables

    repaired = loyalty(settings, "projections", "rebuild")
    assert repaired.returncode == 0, repaired.stderr
    assert loyalty(settings, "projections", "verify").returncode == 0
