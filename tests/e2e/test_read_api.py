"""Read models end to end: many commands through Kafka, then balances and sums from the API.

An organiser's reconciliation in one call: getBonusOperationExt's `sum` for a filter equals the
sum of the accruals sent for it, and each customer's balance equals their accrued points.
"""

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.support.pipeline import Organiser, Pipeline, processing_of

pytestmark = pytest.mark.e2e

DEV_KEY = {"X-Api-Key": "dev-key"}
CUSTOMERS = 40
ITEMS = 400


@pytest.fixture(scope="module")
def api(pipeline: Pipeline) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pipeline.start_api(), headers=DEV_KEY, timeout=30) as client:
        yield client


def accruals(run: str) -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [
        {"guid": str(uuid.uuid4()), "uniqId": f"{run}-{rng.randrange(CUSTOMERS)}",
         "amount": f"{rng.randrange(1, 10_000) / 100:.2f}", "eventId": f"{run}-{n}",
         "eventDate": f"2024-0{1 + n % 9}-15T12:00:00+03", "eventType": "operation",
         "operationType": rng.choice(["purchase", "payment"])}
        for n in range(ITEMS)
    ]


def projected_up_to_head(api: httpx.Client) -> bool:
    health = api.get("/healthz").json()
    return bool(health["eventStoreHead"]) and health["projectionLag"] == 0


def all_operations(api: httpx.Client, query: dict[str, Any]) -> list[dict[str, Any]]:
    operations, cursor = [], None
    while True:
        page = api.post("/v1/getBonusOperationExt",
                        json={**query, "limit": 50, "cursor": cursor}).json()
        operations += page["operations"]
        cursor = page["nextCursor"]
        if cursor is None:
            return operations


def test_balances_and_operation_sums_equal_what_was_sent(
    api: httpx.Client, organiser: Organiser
) -> None:
    run = f"ra{uuid.uuid4().hex[:6]}"
    items = accruals(run)
    for start in range(0, ITEMS, 50):
        organiser.send({"typeOfCommand": "addCustomerPointMessage", "add": items[start:start + 50]})
    organiser.wait_for(lambda rs: all(processing_of(rs, i["guid"]) for i in items), timeout=180)
    organiser.wait_for(lambda _: projected_up_to_head(api), timeout=120)

    sent: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        sent[item["uniqId"]] += Decimal(item["amount"])
    for uniq_id, total in sent.items():
        customer = api.get(f"/v1/customers/{uniq_id}").json()
        assert (Decimal(customer["balance"]), customer["status"]) == (total, "Active")

    someone = next(iter(sent))
    answer = api.post("/v1/getBonusOperationExt",
                      json={"uniqId": someone, "operationType": "accrual"}).json()
    assert (Decimal(answer["sum"]), answer["count"]) == (
        sent[someone], sum(1 for i in items if i["uniqId"] == someone))

    march = [i for i in items if i["eventDate"].startswith("2024-03")]
    window = {"timeField": "eventDate", "from": "2024-03-01T00:00:00Z",
              "to": "2024-04-01T00:00:00Z", "uniqId": someone}
    answer = api.post("/v1/getBonusOperationExt", json=window).json()
    assert Decimal(answer["sum"]) == sum(
        (Decimal(i["amount"]) for i in march if i["uniqId"] == someone), Decimal(0))

    paged = all_operations(api, {"uniqId": someone})
    assert sorted(op["guid"] for op in paged) == sorted(
        i["guid"] for i in items if i["uniqId"] == someone)


def test_an_item_outcome_is_readable_by_guid(api: httpx.Client, organiser: Organiser) -> None:
    item = accruals(f"io{uuid.uuid4().hex[:6]}")[0]
    organiser.send({"typeOfCommand": "addCustomerPointMessage", "add": [item]})
    organiser.processing(item["guid"])
    organiser.wait_for(lambda _: projected_up_to_head(api), timeout=120)
    outcome = api.get(f"/v1/items/{item['guid']}").json()
    assert outcome["status"] == "Success"
