"""Reversals, spends, cancels, pending points and expiry end to end (docs/points.md), through real
Kafka and PostgreSQL; the clock runs every second here."""

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.support.commands import accrual, add, outcome, unique
from tests.support.pipeline import Organiser, Pipeline
from tests.support.store import event_names

pytestmark = pytest.mark.e2e

DEV_KEY = {"X-Api-Key": "dev-key"}


@pytest.fixture(scope="module")
def api(pipeline: Pipeline) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pipeline.start_api(), headers=DEV_KEY, timeout=30) as client:
        yield client


def at(moment: datetime) -> str:
    return moment.isoformat()


def command(name: str, field: str, uniq_id: str, **fields: Any) -> tuple[dict[str, Any], str]:
    guid = str(uuid.uuid4())
    return {"typeOfCommand": name, field: [{"guid": guid, "uniqId": uniq_id, **fields}]}, guid


def settle(organiser: Organiser, sent: tuple[dict[str, Any], str]) -> dict[str, Any]:
    """Sends a command of one item; its stage-2 result."""
    body, guid = sent
    organiser.send(body)
    return outcome(organiser, guid)


def reverse(uniq_id: str, original: str, amount: str | None = None) -> tuple[dict[str, Any], str]:
    fields = {"originalGuid": original, "eventId": "refund", "eventDate": at(datetime.now(UTC))}
    return command("reverseBonus", "reverse", uniq_id,
                   **fields, **({} if amount is None else {"amount": amount}))


def spend(uniq_id: str, amount: str) -> tuple[dict[str, Any], str]:
    return command("spendBonus", "spend", uniq_id, amount=amount, eventId="order",
                   eventDate=at(datetime.now(UTC)), merchantName="Shop")


def cancel(uniq_id: str, original: str, amount: str | None = None) -> tuple[dict[str, Any], str]:
    return command("cancelSpend", "cancel", uniq_id, originalGuid=original,
                   **({} if amount is None else {"amount": amount}))


def customer_reads(api: httpx.Client, uniq_id: str,
                   condition: Callable[[dict[str, Any]], bool],
                   timeout: float = 30) -> dict[str, Any]:
    """The customer from the read API, once `condition` holds (the read models follow)."""
    deadline = time.monotonic() + timeout
    while True:
        found = api.get(f"/v1/customers/{uniq_id}")
        if found.status_code == 200 and condition(found.json()):
            return found.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"{uniq_id}: {found.status_code} {found.text}")
        time.sleep(0.1)


def balances(body: dict[str, Any]) -> tuple[str, str, str]:
    return body["balance"], body["pending"], body["debt"]


def earn(organiser: Organiser, uniq_id: str, amount: str, **fields: Any) -> str:
    item = accrual(uniq_id, amount, **fields)
    organiser.send(add(item, command="addBonusExtQuick"))
    assert outcome(organiser, item["guid"])["status"] == "Success"
    return str(item["guid"])


def code(result: dict[str, Any]) -> str | None:
    return (result.get("error") or {}).get("code")


def test_a_refund_reverses_points_in_full_and_in_part(organiser: Organiser,
                                                      api: httpx.Client) -> None:
    customer = unique("refund")
    first, second = earn(organiser, customer, "100.00"), earn(organiser, customer, "40.00")

    assert code(settle(organiser, reverse(customer, first, "30.00"))) is None
    assert code(settle(organiser, reverse(customer, second))) is None
    assert code(settle(organiser, reverse(customer, first, "70.01"))) == "EXCEEDS_ORIGINAL"
    assert code(settle(organiser, reverse(customer, str(uuid.uuid4())))) == "ORIGINAL_NOT_FOUND"

    body = customer_reads(api, customer, lambda c: c["balance"] == "70.00")
    assert balances(body) == ("70.00", "0.00", "0.00")


def test_a_spend_beyond_the_active_points_fails_and_a_blocked_customer_cannot_spend(
    organiser: Organiser, api: httpx.Client
) -> None:
    customer = unique("spender")
    earn(organiser, customer, "50.00")

    assert code(settle(organiser, spend(customer, "50.01"))) == "INSUFFICIENT_POINTS"
    assert code(settle(organiser, spend(customer, "20.00"))) is None
    block, guid = command("blockCustomers", "customers", customer)
    organiser.send(block)
    outcome(organiser, guid)
    assert code(settle(organiser, spend(customer, "1.00"))) == "CUSTOMER_BLOCKED"

    assert balances(customer_reads(api, customer, lambda c: c["status"] == "Blocked")) == (
        "30.00", "0.00", "0.00")


def test_a_cancelled_spend_restores_points_with_their_original_expiry(
    organiser: Organiser, api: httpx.Client
) -> None:
    customer = unique("cancel")
    expiry = datetime.now(UTC) + timedelta(days=30)
    earn(organiser, customer, "25.00", expiresAt=at(expiry))
    purchase = spend(customer, "25.00")
    assert code(settle(organiser, purchase)) is None
    customer_reads(api, customer, lambda c: c["expiries"] == [])

    assert code(settle(organiser, cancel(customer, purchase[1], "10.00"))) is None

    body = customer_reads(api, customer, lambda c: c["balance"] == "10.00")
    assert body["expiries"] == [{"date": expiry.date().isoformat(), "amount": "10.00"}]


def test_a_lot_expires_within_the_clock_s_interval_and_its_expiry_is_an_event(
    organiser: Organiser, api: httpx.Client, pipeline: Pipeline
) -> None:
    customer = unique("expiring")
    earn(organiser, customer, "12.00", expiresAt=at(datetime.now(UTC) + timedelta(seconds=3)))
    earn(organiser, customer, "5.00")
    assert customer_reads(api, customer, lambda c: True)["balance"] == "17.00"

    body = customer_reads(api, customer, lambda c: c["balance"] == "5.00", timeout=20)

    assert body["expiries"] == []
    assert "PointsExpired" in event_names(pipeline.dsn, customer)


def test_a_pending_lot_is_not_spent_before_it_is_available(
    organiser: Organiser, api: httpx.Client
) -> None:
    customer = unique("pending")
    earn(organiser, customer, "30.00",
         availableFrom=at(datetime.now(UTC) + timedelta(seconds=4)))
    assert balances(customer_reads(api, customer, lambda c: True)) == ("0.00", "30.00", "0.00")

    assert code(settle(organiser, spend(customer, "10.00"))) == "INSUFFICIENT_POINTS"
    customer_reads(api, customer, lambda c: c["balance"] == "30.00", timeout=20)
    assert code(settle(organiser, spend(customer, "10.00"))) is None


def test_a_reversal_of_spent_points_creates_debt_the_next_accrual_repays(
    organiser: Organiser, api: httpx.Client
) -> None:
    customer = unique("debtor")
    bought = earn(organiser, customer, "60.00")
    assert code(settle(organiser, spend(customer, "50.00"))) is None
    assert code(settle(organiser, reverse(customer, bought))) is None
    assert balances(customer_reads(api, customer, lambda c: c["debt"] != "0.00")) == (
        "0.00", "0.00", "50.00")
    assert code(settle(organiser, spend(customer, "0.01"))) == "INSUFFICIENT_POINTS"

    earn(organiser, customer, "80.00")

    assert balances(customer_reads(api, customer, lambda c: c["debt"] == "0.00")) == (
        "30.00", "0.00", "0.00")


def test_operation_sums_per_kind_match_what_was_sent(organiser: Organiser,
                                                     api: httpx.Client) -> None:
    customer = unique("ledger")
    accrued = [earn(organiser, customer, amount) for amount in ("10.00", "20.00", "30.50")]
    spends = [spend(customer, amount) for amount in ("5.00", "7.25")]
    for sent in spends:
        assert code(settle(organiser, sent)) is None
    assert code(settle(organiser, cancel(customer, spends[0][1], "2.00"))) is None
    assert code(settle(organiser, reverse(customer, accrued[2], "10.50"))) is None
    customer_reads(api, customer, lambda c: c["balance"] == "39.75")

    def summed(kind: str) -> tuple[int, str]:
        page = api.post("/v1/getBonusOperationExt",
                        json={"uniqId": customer, "operationKind": kind}).json()
        return page["count"], page["sum"]

    assert summed("accrual") == (3, "60.50")
    assert summed("spend") == (2, "12.25")
    assert summed("spendCancel") == (1, "2.00")
    assert summed("reversal") == (1, "10.50")
    operations = api.post("/v1/getBonusOperationExt", json={"uniqId": customer}).json()
    kinds = [(o["operationKind"], o["relatedGuid"]) for o in operations["operations"]]
    assert ("reversal", accrued[2]) in kinds and ("spendCancel", spends[0][1]) in kinds
    assert Decimal(operations["sum"]) == Decimal("85.25")
