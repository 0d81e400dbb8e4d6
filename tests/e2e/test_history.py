"""The customers' events on loyalty.events, a customer's history and the past as it was,
through real Kafka and PostgreSQL."""

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from aiokafka import AIOKafkaConsumer

from events.published import event_id
from services.domain.ids import customer_id
from tests.support.commands import accrual, add, outcome, unique
from tests.support.pipeline import Organiser, Pipeline
from tests.support.seed import SEED_GUID, SEED_LOGIN, SEED_REQUEST
from tests.support.store import event_store

pytestmark = pytest.mark.e2e

DEV_KEY = {"X-Api-Key": "dev-key"}
SCHEMAS = Path(__file__).resolve().parents[2] / "events" / "schemas"


@pytest.fixture(scope="module")
def api(pipeline: Pipeline) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pipeline.start_api(), headers=DEV_KEY, timeout=30) as client:
        yield client


async def read_events(pipeline: Pipeline, wanted: int, seconds: float = 90) -> list[Any]:
    """Records of the events topic, from its beginning, until `wanted` of them arrived."""
    consumer = AIOKafkaConsumer(f"{pipeline.prefix}events", bootstrap_servers=pipeline.bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + seconds
        while len(found) < wanted and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            found += [record for records in batches.values() for record in records]
        return found
    finally:
        await consumer.stop()


def of_customer(records: list[Any], uniq_id: str) -> list[dict[str, Any]]:
    key = f"default\x1f{uniq_id}".encode()
    return [json.loads(record.value) for record in records if record.key == key]


def stored_ids(pipeline: Pipeline, uniq_id: str) -> list[str]:
    """The ids of the customer's stored events, in order."""
    with event_store(pipeline.dsn) as store:
        cid = customer_id("default", uniq_id)
        return [event_id(cid, event.originator_version) for event in store.events.get(cid)]


def test_a_consumer_of_loyalty_events_sees_exactly_the_customers_events_in_order(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    organiser.send(SEED_REQUEST)
    outcome(organiser, SEED_GUID)
    more = [accrual(SEED_LOGIN, "50.00", phone="+79160001122"),
            accrual(SEED_LOGIN, "25.50", email="ann@example.com")]
    organiser.send(add(*more))
    for item in more:
        assert outcome(organiser, item["guid"])["status"] == "Success"
    block = {"guid": str(uuid.uuid4()), "uniqId": SEED_LOGIN, "reason": "fraud"}
    organiser.send({"typeOfCommand": "blockCustomers", "customers": [block]})
    outcome(organiser, block["guid"])
    expected = stored_ids(pipeline, SEED_LOGIN)

    records = asyncio.run(read_events(pipeline, len(expected)))
    published = of_customer(records, SEED_LOGIN)

    assert [event["id"] for event in published] == expected
    assert [event["type"] for event in published] == [
        "CustomerCreated", "PointsAccrued", "CustomerActivated", "MessageQueued",
        "PhoneChanged", "PointsAccrued", "EmailChanged", "PointsAccrued", "CustomerBlocked"]
    assert {(e["subject"], e["programme"], e["specversion"]) for e in published} == {
        (SEED_LOGIN, "default", "1.0")}
    first_accrual = published[1]["data"]
    assert (first_accrual["amount"], first_accrual["merchantName"], first_accrual["guid"]) == (
        "200.00", "TZUM", SEED_GUID)
    assert published[-1]["data"] == {"reason": "fraud"}
    for event in published:
        schema = json.loads((SCHEMAS / f"{event['type']}.json").read_text())
        jsonschema_rs.validate(schema, event)


def test_a_publisher_killed_mid_stream_publishes_every_event_once_at_least_with_stable_ids(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    customers = [unique("stream") for _ in range(12)]
    items = [accrual(uniq_id, f"{n}.00") for n in range(1, 26) for uniq_id in customers]
    for start in range(0, len(items), 30):
        organiser.send(add(*items[start:start + 30]))
        if start == 120:
            organiser.wait_for(lambda rs: len(rs) > 20)
            pipeline.kill("relay")  # SIGKILL: its position is not stored for what is in flight
            killed_at = start
    pipeline.start("relay")
    organiser.wait_for(lambda rs: all(outcome_of(rs, item["guid"]) for item in items), 180)
    assert killed_at == 120

    expected = {uniq_id: stored_ids(pipeline, uniq_id) for uniq_id in customers}
    total = sum(map(len, expected.values()))
    records = asyncio.run(read_events(pipeline, total + 1, seconds=20))

    for uniq_id, ids in expected.items():
        published = [event["id"] for event in of_customer(records, uniq_id)]
        assert set(published) == set(ids), uniq_id
        first_seen = list(dict.fromkeys(published))
        assert first_seen == ids, f"{uniq_id}: events out of order"
    repeats = defaultdict(list)
    for record in records:
        event = json.loads(record.value)
        repeats[event["id"]].append(event)
    assert all(all(e == events[0] for e in events) for events in repeats.values())


def outcome_of(results: list[dict[str, Any]], guid: str) -> bool:
    return any(r.get("stage") == "processing" and r.get("guid") == guid for r in results)


def test_the_history_pages_filters_and_the_past_as_it_was(
    organiser: Organiser, api: httpx.Client
) -> None:
    customer = unique("history")
    first, second = accrual(customer, "10.00"), accrual(customer, "32.50")
    organiser.send(add(first))
    outcome(organiser, first["guid"])
    organiser.send(add(second))
    outcome(organiser, second["guid"])
    block = {"guid": str(uuid.uuid4()), "uniqId": customer}
    organiser.send({"typeOfCommand": "blockCustomers", "customers": [block]})
    outcome(organiser, block["guid"])

    pages, cursor = [], None
    while True:
        page = api.get(f"/v1/customers/{customer}/events",
                       params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        pages.append(page["events"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    history = [event for page in pages for event in page]
    assert [event["type"] for event in history] == [
        "CustomerCreated", "PointsAccrued", "CustomerActivated", "PointsAccrued",
        "CustomerBlocked"]
    assert all(len(page) <= 2 for page in pages) and len(pages) == 3
    accruals = api.get(f"/v1/customers/{customer}/events", params={"type": "PointsAccrued"})
    assert [e["data"]["amount"] for e in accruals.json()["events"]] == ["10.00", "32.50"]
    created_at = datetime.fromisoformat(history[0]["time"])
    later = api.get(f"/v1/customers/{customer}/events",
                    params={"from": history[3]["time"]}).json()["events"]
    assert [e["type"] for e in later] == ["PointsAccrued", "CustomerBlocked"]

    def at(instant: datetime) -> httpx.Response:
        return api.get(f"/v1/customers/{customer}", params={"asOf": instant.isoformat()})

    between = datetime.fromisoformat(history[3]["time"]) - timedelta(microseconds=1)
    assert at(created_at - timedelta(seconds=1)).status_code == 404
    assert (at(between).json()["balance"], at(between).json()["status"]) == ("10.00", "Active")
    blocked_at = datetime.fromisoformat(history[4]["time"])
    past = at(blocked_at).json()
    assert (past["status"], past["balance"]) == ("Blocked", "42.50")
    assert Decimal(api.get(f"/v1/customers/{customer}").json()["balance"]) == Decimal("42.50")


def test_history_is_scoped_by_the_api_key(api: httpx.Client, organiser: Organiser) -> None:
    customer = unique("scoped")
    item = accrual(customer, "1.00")
    organiser.send(add(item), programme="other-bank")
    outcome(organiser, item["guid"])

    assert api.get(f"/v1/customers/{customer}/events").status_code == 404
    assert api.get(f"/v1/customers/{customer}",
                   params={"asOf": "2100-01-01T00:00:00Z"}).status_code == 404
    assert api.get(f"/v1/customers/{customer}/events",
                   headers={"X-Api-Key": "wrong"}).status_code == 403
    assert api.get(f"/v1/customers/{customer}/events", params={"type": "Nope"},
                   ).status_code == 422
