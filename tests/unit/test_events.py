"""The domain events keep the contract of docs/events.md, their versions, and their past.

Events stored by earlier layouts (`tests/fixtures/stored_events_v1.json`, written by the first
layout of this service) must load into today's classes with today's meaning, and every answer
they stored must be published again byte for byte.
"""

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import jsonschema_rs
import pytest
from eventsourcing.persistence import JSONTranscoder, StoredEvent, Tracking

from events import PUBLISHED, customer, indexes, outcomes
from events.published import cloud_event, event_id
from events.schema import rendered, schema_path
from services import bootstrap
from services.adapters.event_store import register_transcodings
from services.contract.commands import WorkItem
from services.contract.mapping import command_of, result_of
from services.domain import Customer, EmailIndex, ItemOutcome, PhoneIndex, UnitOfWork, ids
from services.domain.commands import Message
from services.domain.outcomes import answer_of
from tests.support.domain import World, accrual, add, authorize

FIXTURES = Path(__file__).parent.parent / "fixtures"

CONTRACT: dict[type, set[str]] = {
    customer.CustomerCreated: {"programme", "uniq_id", "status", "guid", "phone", "email"},
    customer.PhoneChanged: {"phone", "previous"},
    customer.EmailChanged: {"email", "previous"},
    customer.PointsAccrued: {
        "guid", "command_id", "amount", "balance", "event_id", "event_date", "event_type",
        "info", "operation_type", "operation_amount", "merchant_name", "bank_product", "mcc",
        "available", "available_from", "expires_at", "active", "pending", "debt",
    },
    customer.PointsActivated: {"lot_guid", "amount", "active", "pending", "debt"},
    customer.PointsReversed: {"guid", "original_guid", "amount", "from_remaining",
                              "from_expired", "to_debt", "event_id", "event_date", "reason",
                              "active", "pending", "debt"},
    customer.PointsSpent: {"guid", "amount", "allocations", "event_id", "event_date",
                           "merchant_name", "info", "active", "pending", "debt"},
    customer.SpendCancelled: {"guid", "original_guid", "amount", "allocations", "debt_cleared",
                              "credited",
                              "active", "pending", "debt"},
    customer.PointsExpired: {"lot_guid", "amount", "active", "pending", "debt"},
    customer.DebtRepaid: {"lot_guid", "amount", "active", "pending", "debt"},
    customer.MessageQueued: {"message_id", "guid", "text", "show_count", "show_till"},
    customer.MessageShown: {"message_id", "shows_left"},
    customer.CustomerActivated: {"cause"},
    customer.CustomerBlocked: {"reason"},
    customer.CustomerAuthorized: {"guid", "method"},
    customer.LinksRevoked: {"guid", "link_version"},
    indexes.PhoneClaimed: {"programme", "phone", "customer_id"},
    indexes.PhoneReleased: {"customer_id"},
    indexes.EmailHolderAdded: {"programme", "email", "customer_id"},
    indexes.EmailHolderRemoved: {"customer_id"},
    outcomes.ItemProcessed: {"programme", "guid", "fingerprint", "position", "customer_id",
                             "command_id", "type_of_command", "login", "status", "error_code",
                             "messages", "command_timestamp"},
    outcomes.ItemResent: {"position", "customer_id", "guid", "command_id", "type_of_command",
                          "login", "status", "error_code", "messages"},
    outcomes.GuidReused: {"position", "fingerprint", "customer_id", "guid", "command_id",
                          "type_of_command", "login", "status", "error_code", "messages"},
}
"""docs/events.md: event class -> attributes."""


@pytest.mark.parametrize("event_class", list(CONTRACT), ids=lambda cls: cls.__name__)
def test_event_classes_carry_the_contract_attributes(event_class: type) -> None:
    fields = {field.name for field in dataclasses.fields(event_class)}
    assert CONTRACT[event_class] <= fields


def test_every_event_has_a_version_and_each_change_a_new_one() -> None:
    versions = {cls.__name__: cls.class_version for cls in PUBLISHED}  # type: ignore[attr-defined]
    assert {name for name, version in versions.items() if version != 1} == {
        "PointsAccrued", "CustomerCreated"}
    assert versions["PointsAccrued"] == versions["CustomerCreated"] == 2
    assert [cls.class_version for cls in outcomes.ANSWERS] == [3, 3, 3]


@pytest.mark.parametrize("event_class", PUBLISHED, ids=lambda cls: cls.__name__)
def test_each_published_event_has_its_json_schema_in_the_repository(event_class: type) -> None:
    assert schema_path(event_class).read_text() == rendered(event_class), (
        "run `python -m events.schema` and commit events/schemas/")


def test_amounts_and_aware_date_times_round_trip_through_the_event_store() -> None:
    world = World()
    moscow = timezone(timedelta(hours=3))
    points = accrual("200.00", event_date=datetime(2015, 1, 1, tzinfo=moscow),
                     operation_amount=Decimal("100.0000"))
    item = dataclasses.replace(add("u1", message=Message(
        text="m", show_count=2, show_till=datetime(2030, 1, 1, tzinfo=moscow))), accrual=points)
    world.one(item)

    _, accrued, _, queued = world.events(ids.customer_id("default", "u1"))

    assert (str(accrued.amount), str(accrued.balance)) == ("200.00", "200.00")
    assert str(accrued.operation_amount) == "100.0000"
    assert accrued.event_date == datetime(2015, 1, 1, tzinfo=moscow)
    assert accrued.event_date.utcoffset() == timedelta(hours=3)
    assert queued.show_till.utcoffset() == timedelta(hours=3)
    assert accrued.timestamp.tzinfo is not None


def test_the_stored_outcome_rebuilds_the_authorization_answer_with_its_messages() -> None:
    world = World()
    queued = add("u1", message=Message(text="hello"))
    world.one(queued)
    item = authorize("u1")

    answer = world.one(item)

    (processed,) = world.events(ids.item_id("default", item.guid))
    assert processed.messages == [{"message_id": ids.message_id("default", queued.guid),
                                   "text": "hello", "shows_left": 0}]
    assert answer_of(processed) == answer
    assert answer.messages and answer.messages[0].text == "hello"


def test_register_transcodings_lets_a_bare_transcoder_carry_the_event_types() -> None:
    transcoder = JSONTranscoder()
    register_transcodings(transcoder)
    value = {"amount": Decimal("1.10"), "at": datetime(2015, 1, 1, tzinfo=UTC)}

    assert transcoder.decode(transcoder.encode(value)) == value


def test_ids_are_deterministic_and_emails_case_insensitive() -> None:
    assert ids.customer_id("p", "u") == ids.customer_id("p", "u")
    assert ids.customer_id("p", "u") != ids.customer_id("q", "u")
    assert ids.email_id("p", "Ann@Example.com") == ids.email_id("p", "ann@example.com")
    assert ids.phone_id("p", "+79161234567") != ids.customer_id("p", "+79161234567")
    assert ids.message_id("p", "g") == ids.message_id("p", "g")


def test_the_store_keeps_events_and_their_kafka_position_together() -> None:
    world = World()
    work = UnitOfWork(world.store.load)
    work.apply(add("u1", amount="1"), "loyalty.items:2:41")
    events = [event for aggregate in work.pending() for event in aggregate.collect_events()]

    world.store.events.put(events, tracking=Tracking("kafka:loyalty.items:2", 42))

    assert world.store.recorder.max_tracking_id("kafka:loyalty.items:2") == 42
    assert world.customer("u1") is not None


# --- events stored by the first layout ----------------------------------------------------------


def stored_v1() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((FIXTURES / "stored_events_v1.json").read_text())
    return rows


def first_layout_store() -> Any:
    store = bootstrap.in_memory_event_store()
    store.recorder.insert_events([
        StoredEvent(UUID(row["id"]), row["version"], row["topic"],
                    json.dumps(row["state"]).encode())
        for row in stored_v1()])
    return store


def test_events_stored_by_the_first_layout_load_into_todays_aggregates() -> None:
    store = first_layout_store()

    ann = store.load(ids.customer_id("default", "c1"))
    dora = store.load(ids.customer_id("default", "c4"))
    # indexes stored by the first layout are named by the plain value until
    # `loyalty privacy migrate` keys them (tests/integration/test_privacy_migration.py)
    phone = store.load(ids.legacy_phone_id("default", "+79160000001"))
    email = store.load(ids.legacy_email_id("default", "c4.new@example.com"))

    assert isinstance(ann, Customer) and isinstance(dora, Customer)
    assert (str(ann.status), ann.phone, ann.email, ann.balance) == (
        "Active", "+79161234567", "Ann@Example.com", Decimal("255.25"))
    assert [(m.text, m.shows_left) for m in ann.messages.values()] == [("Hello", 1)]
    assert (str(dora.status), dora.phone, dora.email) == (
        "Active", "+79160000001", "c4.new@example.com")
    assert isinstance(phone, PhoneIndex) and phone.owner == str(dora.id)
    assert isinstance(email, EmailIndex) and email.holders == [str(dora.id)]


def test_answers_stored_by_the_first_layout_are_published_byte_for_byte_again() -> None:
    store = first_layout_store()
    answered = [row for row in stored_v1() if "result" in row["state"]]
    assert len(answered) == 12

    for row in answered:
        (event,) = store.events.get(UUID(row["id"]), gt=row["version"] - 1,
                                    lte=row["version"])
        republished = json.loads(result_of(answer_of(event)).to_json())
        assert republished == row["state"]["result"]


def test_an_item_of_the_first_layout_resent_today_gets_its_stored_answer() -> None:
    store = first_layout_store()
    outcome = store.load(ids.item_id("default", "22222222-2222-2222-2222-222222222222"))
    assert isinstance(outcome, ItemOutcome)
    wire = WorkItem.model_validate({
        "commandId": "new-command", "typeOfCommand": "addCustomerPointMessage",
        "programme": "default", "guid": "22222222-2222-2222-2222-222222222222", "uniqId": "c1",
        "accrual": {"amount": "50.25", "eventId": "ev-1", "eventDate": "2024-04-30T00:00:00Z",
                    "eventType": "operation"}})
    assert wire.fingerprint() == outcome.fingerprint

    work = UnitOfWork(store.load)
    answer = work.apply(command_of(wire), "loyalty.items:0:99")

    assert answer == outcome.stored_answer
    assert answer is not None and answer.command_id != "new-command"


# --- the published form -----------------------------------------------------------------------


def documented_examples() -> dict[str, dict[str, Any]]:
    """The example of each event in docs/events.md (a ```json block after `#### <Type>`)."""
    text = (Path(__file__).parents[2] / "docs" / "events.md").read_text()
    found = re.findall(r"^#### (\w+)\n\n```json\n(.*?)\n```", text, flags=re.M | re.S)
    return {name: json.loads(block) for name, block in found}


@pytest.mark.parametrize("event_class", PUBLISHED, ids=lambda cls: cls.__name__)
def test_docs_show_a_valid_example_of_each_published_event(event_class: type) -> None:
    example = documented_examples()[event_class.__name__]

    jsonschema_rs.validate(json.loads(schema_path(event_class).read_text()), example)
    assert example["type"] == event_class.__name__


def test_an_event_is_published_with_a_stable_id_in_camel_case_with_exact_values() -> None:
    world = World()
    world.one(add("u1", amount="200.00"))
    created, accrued, _ = world.events(ids.customer_id("default", "u1"))

    published = cloud_event(accrued, programme="default", uniq_id="u1", source="loyalty")

    assert published == cloud_event(accrued, programme="default", uniq_id="u1",
                                    source="loyalty")
    assert published["id"] == event_id(accrued.originator_id, 2)
    assert published["id"] != cloud_event(created, programme="default", uniq_id="u1",
                                          source="loyalty")["id"]
    assert (published["data"]["amount"], published["data"]["eventDate"]) == (
        "200.00", "2024-04-30T00:00:00+00:00")
    assert (published["subject"], published["type"], published["version"]) == (
        "u1", "PointsAccrued", 2)
    jsonschema_rs.validate(json.loads(schema_path(customer.PointsAccrued).read_text()),
                           published)


def test_the_history_endpoint_knows_every_published_type() -> None:
    from services.api.history import EVENT_TYPES

    assert tuple(cls.__name__ for cls in PUBLISHED) == EVENT_TYPES
