"""The read models against a real PostgreSQL event store filled through the customer domain.

(a) the read models equal what the events say; (b) a projection killed mid-stream and restarted
ends identical, row by row, to a rebuild from scratch; (c) an API key reads only its programme;
pending items come from stage-1 results on Kafka and never hide a final outcome.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from projections.item_outcomes import PendingItem, pending_statement
from projections.pending import pending_items
from projections.schema import QUARANTINE, SCHEMA, TRACKING_TABLE
from projections.view import EVENT_TABLES
from projections.writer import clear_read_models
from services import bootstrap
from services.adapters.event_store import EventStore
from services.adapters.kafka import producer
from services.adapters.kafka_topics import ensure_topics
from services.domain.ids import customer_id
from services.settings import Settings
from tests.conftest import scratch_database
from tests.support.workload import record, workload

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def settings(postgres_server_dsn: str) -> Iterator[Settings]:
    """A scratch database holding the event store of the whole workload."""
    for dsn in scratch_database(postgres_server_dsn):
        settings = Settings(postgres_dsn=dsn, api_keys="key-a:alpha,key-b:beta")
        store = bootstrap.event_store(settings, create_tables=True)
        record(store, workload())
        store.close()
        yield settings


@pytest.fixture(scope="module")
def store(settings: Settings) -> Iterator[EventStore]:
    application = bootstrap.event_store(settings, create_tables=True)
    yield application
    application.close()


def project(settings: Settings) -> None:
    """Brings the read models up to the event store's head."""
    writer = bootstrap.read_models_writer(settings, create_tables=True)
    try:
        writer.catch_up()
    finally:
        writer.close()


def rows(settings: Settings, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.postgres_dsn) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()


def read_model(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read model built from the event store."""
    return {table: rows(settings, table) for table in EVENT_TABLES}


def all_events(store: EventStore) -> list[tuple[int, Any]]:
    notifications = store.recorder.select_notifications(start=1, limit=10**7)
    return [(n.id, store.mapper.to_domain_event(n)) for n in notifications]


def test_read_models_equal_the_events(settings: Settings, store: EventStore) -> None:
    project(settings)
    events = all_events(store)
    accruals = {nid: e for nid, e in events if type(e).__name__ == "PointsAccrued"}
    sums: dict[Any, Decimal] = defaultdict(Decimal)
    for event in accruals.values():
        sums[event.originator_id] += event.amount

    operations = {row[0]: row for row in rows(settings, f"{SCHEMA}.bonus_operations")}
    assert operations.keys() == accruals.keys()
    with psycopg.connect(settings.postgres_dsn) as conn:
        for nid, event in accruals.items():
            operation = conn.execute(
                f"SELECT guid, command_id, amount, event_id, event_date, event_type, info,"
                f" operation_type, operation_amount, merchant_name, bank_product, mcc,"
                f" processed_at, kind FROM {SCHEMA}.bonus_operations WHERE id = %s", (nid,)
            ).fetchone()
            assert operation == (
                event.guid, event.command_id, event.amount, event.event_id, event.event_date,
                event.event_type, event.info, event.operation_type, event.operation_amount,
                event.merchant_name, event.bank_product, event.mcc, event.timestamp, "accrual")

    customers = rows(settings, f"{SCHEMA}.customers")
    assert len(customers) == sum(type(e).__name__ == "CustomerCreated" for _, e in events)
    assert sum(sums.values()) > 0
    for cid, programme, uniq_id, status, phone, email, balance, *_ in customers:
        customer = store.repository.get(cid)
        assert (programme, uniq_id, status, phone, email) == (
            customer.programme, customer.uniq_id, customer.status.value, customer.phone,
            customer.email)
        assert balance == customer.balance == sums[cid]
        assert cid == customer_id(programme, uniq_id)

    messages = rows(settings, f"{SCHEMA}.messages")
    assert messages, "the workload queues messages"
    for message_id, programme, uniq_id, _, text, shows_left, *_ in messages:
        queued = store.repository.get(customer_id(programme, uniq_id)).messages.get(message_id)
        if queued is None:  # shown for the last time: the customer no longer keeps it
            assert shows_left == 0
        else:
            assert (text, shows_left) == (queued.text, queued.shows_left)

    outcomes = rows(settings, f"{SCHEMA}.item_outcomes")
    processed = {e.originator_id: e for _, e in events if type(e).__name__ == "ItemProcessed"}
    reuses = Counter(e.originator_id for _, e in events if type(e).__name__ == "GuidReused")
    assert len(outcomes) == len(processed) and sum(reuses.values()) == 5
    for outcome_id, programme, guid, status, code, *_, row_reuses, _messages in outcomes:
        event = processed[outcome_id]
        assert (programme, guid, status, code) == (
            event.programme, event.guid, event.status, event.error_code)
        assert row_reuses == reuses[outcome_id]
    assert {row[3] for row in outcomes} == {"Success", "Error"}


def position(settings: Settings) -> int:
    with psycopg.connect(settings.postgres_dsn) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{TRACKING_TABLE}",)).fetchone() \
                == (None,):
            return 0
        row = conn.execute(
            f"SELECT notification_id FROM {SCHEMA}.{TRACKING_TABLE}"
            " WHERE application_name = %s", (EventStore.name,)).fetchone()
        return int(row[0]) if row else 0


FOLLOWER = """
import threading
import projections.writer
from services import bootstrap
from services.adapters.health import Watchdog
from services.settings import Settings
projections.writer.STEP_LIMIT = 20  # many small transactions: a kill lands mid-stream
bootstrap.read_models_follower(Settings(), Watchdog("projections", 60)).follow(threading.Event())
"""


def test_a_killed_projection_resumes_to_what_a_rebuild_builds(
    settings: Settings, store: EventStore
) -> None:
    bootstrap.create_read_model_tables(settings)  # as `loyalty prepare` does, before services
    clear_read_models(settings.postgres_dsn)
    head = store.recorder.max_notification_id() or 0
    env = {**os.environ, "LOYALTY_POSTGRES_DSN": settings.postgres_dsn, "LOYALTY_LOG_JSON": "0"}
    follower = subprocess.Popen([sys.executable, "-c", FOLLOWER], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while position(settings) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        follower.send_signal(signal.SIGKILL)
        follower.wait()
    killed_at = position(settings)
    assert 0 < killed_at < head, "the kill must land mid-stream"

    project(settings)
    resumed = read_model(settings)
    assert position(settings) == head

    assert bootstrap.rebuild_read_models(settings) == head
    rebuilt = read_model(settings)
    for table in EVENT_TABLES:
        assert resumed[table] == rebuilt[table], table
    assert resumed.pop(QUARANTINE) == [], "nothing was left out"
    assert all(resumed.values())


def test_a_key_reads_only_its_programme(settings: Settings) -> None:
    project(settings)
    with psycopg.connect(settings.postgres_dsn) as conn:
        alpha_customer = conn.execute(
            f"SELECT uniq_id FROM {SCHEMA}.customers WHERE programme = 'alpha' LIMIT 1"
        ).fetchone()
        beta_only = conn.execute(
            f"SELECT uniq_id FROM {SCHEMA}.customers WHERE programme = 'beta' AND uniq_id NOT IN"
            f" (SELECT uniq_id FROM {SCHEMA}.customers WHERE programme = 'alpha') LIMIT 1"
        ).fetchone()
    assert alpha_customer and beta_only
    alpha_item, beta_item = "alpha-g0", "beta-g1"
    with TestClient(bootstrap.api(settings)) as client:
        alpha, beta = {"X-Api-Key": "key-a"}, {"X-Api-Key": "key-b"}
        assert client.get(f"/v1/customers/{alpha_customer[0]}", headers=alpha).status_code == 200
        assert client.get(f"/v1/customers/{beta_only[0]}", headers=alpha).status_code == 404
        assert client.get(f"/v1/customers/{beta_only[0]}", headers=beta).status_code == 200
        assert client.get(f"/v1/items/{alpha_item}", headers=alpha).status_code == 200
        assert client.get(f"/v1/items/{beta_item}", headers=alpha).status_code == 404
        assert client.get(f"/v1/items/{beta_item}", headers=beta).json()["guid"] == beta_item
        page = client.post("/v1/getBonusOperationExt", headers=alpha,
                           json={"uniqId": beta_only[0]}).json()
        assert page == {"operations": [], "count": 0, "sum": "0.00", "nextCursor": None}
        missing = client.get("/v1/items/x")
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "UNAUTHORIZED"
        unknown = client.get("/v1/items/x", headers={"X-Api-Key": "nope"})
        assert unknown.status_code == 403 and unknown.json()["error"]["code"] == "FORBIDDEN"


def test_pages_of_operations_add_up_to_count_and_sum(settings: Settings) -> None:
    project(settings)
    with TestClient(bootstrap.api(settings)) as client:
        seen: list[dict[str, Any]] = []
        body: dict[str, Any] = {"limit": 7, "timeField": "eventDate"}
        while True:
            page = client.post("/v1/getBonusOperationExt", headers={"X-Api-Key": "key-a"},
                               json=body).json()
            seen += page["operations"]
            if page["nextCursor"] is None:
                break
            body["cursor"] = page["nextCursor"]
    assert len(seen) == page["count"] == len({op["id"] for op in seen}) > 7
    assert sum(Decimal(op["amount"]) for op in seen) == Decimal(page["sum"])
    dates = [(op["eventDate"], op["id"]) for op in seen]
    assert dates == sorted(dates)


def test_pending_items_never_hide_a_final_outcome(settings: Settings) -> None:
    project(settings)
    result = (b'{"commandId": "c9", "stage": "validation", "programme": "alpha", "results": ['
              b'{"login": "u1", "guid": "alpha-g0", "status": "Success", "error": null},'
              b'{"login": "u2", "guid": "alpha-new", "status": "Success", "error": null},'
              b'{"login": "u3", "guid": "alpha-bad", "status": "Error", "error": null}]}')
    items = pending_items(result, {})
    assert [item.guid for item in items] == ["alpha-g0", "alpha-new"]
    assert pending_items(result.replace(b'"programme": "alpha", ', b""), {}) == []
    assert pending_items(result.replace(b'"programme": "alpha", ', b""),
                         {"programme": b"alpha"}) == items
    with psycopg.connect(settings.postgres_dsn) as conn:
        for batch in (items, [PendingItem("alpha", "alpha-new", "u2", "c9")]):
            statement = pending_statement(batch)
            conn.execute(statement.query, statement.params)
    with TestClient(bootstrap.api(settings)) as client:
        key = {"X-Api-Key": "key-a"}
        assert client.get("/v1/items/alpha-g0", headers=key).json()["status"] != "pending"
        assert client.get("/v1/items/alpha-new", headers=key).json()["status"] == "pending"


def test_pending_items_come_from_validation_results_on_kafka(
    settings: Settings, kafka_bootstrap: str, topic_prefix: str
) -> None:
    kafka = settings.model_copy(update={
        "kafka_bootstrap_servers": kafka_bootstrap, "commands_topic": f"{topic_prefix}commands",
        "items_topic": f"{topic_prefix}items", "results_topic": f"{topic_prefix}results"})
    value = (b'{"commandId": "k1", "typeOfCommand": "addBonusExtQuick", "stage": "validation",'
             b' "programme": "beta", "results": [{"login": "u1", "guid": "beta-kafka",'
             b' "status": "Success", "error": null}]}')

    async def publish_and_follow() -> None:
        await ensure_topics(kafka)
        async with producer(kafka) as publisher:
            await publisher.send_and_wait(kafka.results_topic, value, key=b"k1")
        stop = asyncio.Event()
        follower = asyncio.create_task(bootstrap.pending_items(kafka).follow(stop))
        await asyncio.to_thread(wait_until_pending, "beta-kafka")
        stop.set()
        await follower

    def wait_until_pending(guid: str) -> None:
        deadline = time.monotonic() + 30
        while not pending(guid) and time.monotonic() < deadline:
            time.sleep(0.2)

    def pending(guid: str) -> bool:
        with psycopg.connect(settings.postgres_dsn) as conn:
            return conn.execute(f"SELECT 1 FROM {SCHEMA}.pending_items WHERE guid = %s",
                                (guid,)).fetchone() is not None

    project(settings)
    asyncio.run(publish_and_follow())
    with TestClient(bootstrap.api(settings)) as client:
        item = client.get("/v1/items/beta-kafka", headers={"X-Api-Key": "key-b"}).json()
        assert (item["status"], item["login"], item["commandId"]) == ("pending", "u1", "k1")
        assert client.get("/v1/items/beta-kafka", headers={"X-Api-Key": "key-a"}).status_code \
            == 404


def test_set_based_folding_is_measured_on_the_rows_the_folds_write(settings: Settings) -> None:
    """`python -m tools.bench.set_folding` times SQL over the stored JSON against the writer's
    folds only after both wrote the same rows, and leaves the read models as they were."""
    from tools.bench.set_folding import MODELS, measure

    project(settings)
    before = read_model(settings)

    measured = measure(settings.postgres_dsn, repeats=1)

    assert [one.model for one in measured] == list(MODELS)
    assert all(one.rows > 0 and one.python.events > 0 and one.in_sql.server > 0
               for one in measured)
    assert read_model(settings) == before
