"""Statuses and messages end to end: block and activate, first login, shows left, showTill."""

import uuid
from decimal import Decimal
from typing import Any

import pytest

from tests.support.commands import accrual, add, outcome, unique
from tests.support.pipeline import Organiser, Pipeline, Result
from tests.support.store import customer

pytestmark = pytest.mark.e2e


def customers(command: str, uniq_id: str, **fields: Any) -> tuple[dict[str, Any], str]:
    """A one-item command of the customers family, and its item's guid."""
    guid = str(uuid.uuid4())
    return {"typeOfCommand": command,
            "customers": [{"guid": guid, "uniqId": uniq_id, **fields}]}, guid


def settle(organiser: Organiser, command: dict[str, Any], guid: str) -> Result:
    """Sends the command and waits for its item's stage-2 result."""
    organiser.send(command)
    return outcome(organiser, guid)


def authorize(organiser: Organiser, uniq_id: str) -> Result:
    """A login by link; the stage-2 result with the messages shown."""
    return settle(organiser, *customers("authorizeCustomer", uniq_id, method="link"))


def message(uniq_id: str, text: str, **fields: Any) -> dict[str, Any]:
    """An item that only queues a message (no amount)."""
    return {"guid": str(uuid.uuid4()), "uniqId": uniq_id, "message": text, **fields}


def status(pipeline: Pipeline, uniq_id: str) -> str:
    return str(customer(pipeline.dsn, uniq_id).status)


def test_a_blocked_customer_is_refused_until_activate_customers_lifts_the_block_3_4(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    blocked = unique("blocked")
    created = accrual(blocked, "10.00")
    organiser.send(add(created))
    assert outcome(organiser, created["guid"])["status"] == "Success"
    assert settle(organiser, *customers("blockCustomers", blocked, reason="fraud"))[
        "status"] == "Success"

    refused = accrual(blocked, "5.00")
    organiser.send(add(refused))
    assert outcome(organiser, refused["guid"])["error"]["code"] == "CUSTOMER_BLOCKED"
    assert authorize(organiser, blocked)["error"]["code"] == "CUSTOMER_BLOCKED"
    assert status(pipeline, blocked) == "Blocked"

    assert settle(organiser, *customers("activateCustomers", blocked))["status"] == "Success"
    assert status(pipeline, blocked) == "Active"
    accepted = accrual(blocked, "5.00")
    organiser.send(add(accepted))
    assert outcome(organiser, accepted["guid"])["status"] == "Success"
    assert customer(pipeline.dsn, blocked).balance == Decimal("15.00")


def test_a_new_customer_becomes_active_at_the_first_login_3_3(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    newcomer = unique("newcomer")
    queued = message(newcomer, "Welcome to the programme")
    organiser.send(add(queued))
    assert outcome(organiser, queued["guid"])["status"] == "Success"
    assert status(pipeline, newcomer) == "New"

    login = authorize(organiser, newcomer)
    assert (login["status"], login["login"]) == ("Success", newcomer)
    assert [(m["text"], m["showsLeft"]) for m in login["messages"]] == [
        ("Welcome to the programme", 0)]
    assert status(pipeline, newcomer) == "Active"
    assert customer(pipeline.dsn, newcomer).balance == Decimal(0)


def test_a_message_is_shown_show_count_times_then_no_more_4(organiser: Organiser) -> None:
    reader = unique("reader")
    queued = accrual(reader, "1.00", message="Three times", showCount=3)
    organiser.send(add(queued))
    assert outcome(organiser, queued["guid"])["status"] == "Success"

    shown = [authorize(organiser, reader)["messages"] for _ in range(4)]
    assert [[(m["text"], m["showsLeft"]) for m in messages] for messages in shown] == [
        [("Three times", 2)], [("Three times", 1)], [("Three times", 0)], []]
    assert len({m["messageId"] for messages in shown for m in messages}) == 1


def test_a_message_past_its_show_till_is_never_shown(organiser: Organiser) -> None:
    late = unique("late")
    expired = message(late, "Too late", showCount=5, showTill="2019-10-23T18:25:43.511Z")
    current = message(late, "Still on", showTill="2099-01-01T00:00:00+03")
    organiser.send(add(expired, current))
    assert [outcome(organiser, item["guid"])["status"] for item in (expired, current)] == [
        "Success", "Success"]

    first, second = authorize(organiser, late), authorize(organiser, late)
    assert [m["text"] for m in first["messages"]] == ["Still on"]
    assert second["messages"] == []


def test_a_message_without_an_accrual_is_delivered_faq1(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    member = unique("member")
    earned = accrual(member, "25.00")
    organiser.send(add(earned))
    assert outcome(organiser, earned["guid"])["status"] == "Success"

    note = message(member, "Your card is ready", showCount=2)
    organiser.send(add(note))
    assert outcome(organiser, note["guid"])["status"] == "Success"
    login = authorize(organiser, member)
    assert [(m["text"], m["showsLeft"]) for m in login["messages"]] == [
        ("Your card is ready", 1)]
    assert customer(pipeline.dsn, member).balance == Decimal("25.00")
