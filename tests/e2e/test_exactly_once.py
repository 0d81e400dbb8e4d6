"""Two processors on one group, killed and restarted mid-stream: every item counts exactly once.

The processors rebalance partitions between them while items flow; one is SIGKILLed (no commit,
no flush) and started again. Whatever the broker's offsets say, every accrual is recorded once
and no phone number ever belongs to two customers.
"""

import uuid
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest

from services.domain.ids import customer_id
from tests.support.pipeline import Organiser, Pipeline, processing_of
from tests.support.store import event_store

pytestmark = pytest.mark.e2e

CUSTOMERS = 120
ITEMS_PER_CUSTOMER = 5
CONTENDERS = 60
PHONES = [f"+7916555{n:04d}" for n in range(6)]


def workload() -> list[dict[str, Any]]:
    """Accruals to many customers, and new customers contending for a few phones."""
    items = []
    for c in range(CUSTOMERS):
        uniq_id = f"eo-{c}-{uuid.uuid4().hex[:6]}"
        for n in range(ITEMS_PER_CUSTOMER):
            items.append({"guid": str(uuid.uuid4()), "uniqId": uniq_id, "amount": f"{n + 1}.25",
                          "eventId": f"{c}-{n}", "eventDate": "2024-01-01T00:00:00Z",
                          "eventType": "operation"})
    for c in range(CONTENDERS):
        items.append({"guid": str(uuid.uuid4()), "uniqId": f"contender-{c}-{uuid.uuid4().hex[:6]}",
                      "phone": PHONES[c % len(PHONES)], "amount": "1.00", "eventId": f"p{c}",
                      "eventDate": "2024-01-01T00:00:00Z", "eventType": "action"})
    return items


def has_results(results: list[dict[str, Any]], items: list[dict[str, Any]], n: int) -> bool:
    return sum(1 for item in items if processing_of(results, item["guid"])) >= n


def send_in_commands(organiser: Organiser, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 40):
        organiser.send({"typeOfCommand": "addCustomerPointMessage", "add": items[start:start + 40]})


def test_rebalancing_and_killed_processors_never_double_count(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    items = workload()
    first, second, third = items[:200], items[200:500], items[500:]
    send_in_commands(organiser, first)
    organiser.wait_for(lambda rs: has_results(rs, first, 20))

    pipeline.start("processor-b", "processor")
    pipeline.wait_for_log("processor-b", "partitions assigned")
    send_in_commands(organiser, second + third)
    organiser.wait_for(lambda rs: has_results(rs, second, 10))
    pipeline.kill("processor")  # mid-stream: most of `second` and `third` still to do

    pipeline.start("processor-a2", "processor")
    guids = [item["guid"] for item in items]
    organiser.wait_for(lambda rs: all(processing_of(rs, g) for g in guids), timeout=240)

    outcomes: dict[str, dict[str, Any]] = {}
    for guid in guids:
        results = processing_of(organiser.results, guid)
        assert all(result == results[0] for result in results), "repeated results differ"
        outcomes[guid] = results[0]

    with event_store(pipeline.dsn) as store:
        accrued: Counter[str] = Counter()
        balance_by_customer: dict[str, Decimal] = {}
        phone_holders: dict[str, set[str]] = defaultdict(set)
        for uniq_id in {item["uniqId"] for item in items}:
            stored = store.load(customer_id("default", uniq_id))
            if stored is None:
                continue
            balance_by_customer[uniq_id] = stored.balance
            if stored.phone:
                phone_holders[stored.phone].add(uniq_id)
            for event in store.events.get(stored.id):
                if type(event).__name__ == "PointsAccrued":
                    accrued[event.guid] += 1

    assert all(len(holders) == 1 for holders in phone_holders.values()), phone_holders
    assert set(phone_holders) == set(PHONES)
    succeeded = {g for g, r in outcomes.items() if r["status"] == "Success"}
    assert set(accrued) == succeeded
    assert max(accrued.values()) == 1, "an item was accrued twice"
    refused = [r for r in outcomes.values() if r["status"] == "Error"]
    assert {r["error"]["code"] for r in refused} <= {"PHONE_BELONGS_TO_ANOTHER_CUSTOMER"}
    assert len(refused) == CONTENDERS - len(PHONES)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        if item["guid"] in succeeded:
            expected[item["uniqId"]] += Decimal(item["amount"])
    assert balance_by_customer == dict(expected)
    for name in ("processor", "processor-b", "processor-a2"):
        log = (pipeline.log_dir / f"{name}.log").read_text(errors="replace")
        assert "partitions assigned" in log
        assert "records could not be read" not in log, f"{name} took its assignment for a fault"


def test_a_killed_intake_loses_no_command_and_doubles_no_item(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    uniq_id = f"intake-kill-{uuid.uuid4().hex[:6]}"
    commands = [
        {"typeOfCommand": "addCustomerPointMessage",
         "add": [{"guid": str(uuid.uuid4()), "uniqId": uniq_id, "amount": "1.10",
                  "eventId": f"k{n}", "eventDate": "2024-01-01T00:00:00Z",
                  "eventType": "operation"}]}
        for n in range(60)
    ]
    command_ids = [organiser.send(command) for command in commands[:30]]
    organiser.wait_for(lambda rs: any(r.get("commandId") in command_ids for r in rs))
    pipeline.kill("intake")  # SIGKILL: intake gets no chance to commit its offsets
    command_ids += [organiser.send(command) for command in commands[30:]]
    pipeline.start("intake")

    for command_id in command_ids:
        organiser.validation(command_id, timeout=120)
    guids = [command["add"][0]["guid"] for command in commands]
    organiser.wait_for(lambda rs: all(processing_of(rs, g) for g in guids), timeout=120)
    with event_store(pipeline.dsn) as store:
        stored = store.load(customer_id("default", uniq_id))
        accruals = [e for e in store.events.get(stored.id) if type(e).__name__ == "PointsAccrued"]
    assert sorted(e.guid for e in accruals) == sorted(guids)
    assert stored.balance == Decimal("66.00")
