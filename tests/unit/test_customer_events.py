"""The domain events keep the contract of docs/events.md and survive the store's transcoder."""

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from eventsourcing.persistence import JSONTranscoder, Tracking

from events.commands import Accrual, CommandType, Message, WorkItem
from services.customers import CustomerBook, ids, register_transcodings
from services.customers.domain import Customer, EmailIndex, ItemOutcome, PhoneIndex
from tests.unit.test_customer_rules import World, add, authorize

CONTRACT: dict[type, dict[str, set[str]]] = {
    Customer: {
        "CustomerCreated": {"programme", "uniq_id", "status", "guid"},
        "PhoneChanged": {"phone", "previous"},
        "EmailChanged": {"email", "previous"},
        "PointsAccrued": {
            "guid",
            "command_id",
            "amount",
            "balance",
            "event_id",
            "event_date",
            "event_type",
            "info",
            "operation_type",
            "operation_amount",
            "merchant_name",
            "bank_product",
            "mcc",
        },
        "MessageQueued": {"message_id", "guid", "text", "show_count", "show_till"},
        "MessageShown": {"message_id", "shows_left"},
        "CustomerActivated": {"cause"},
        "CustomerBlocked": {"reason"},
        "CustomerAuthorized": {"guid", "method"},
    },
    PhoneIndex: {
        "PhoneClaimed": {"programme", "phone", "customer_id"},
        "PhoneReleased": {"customer_id"},
    },
    EmailIndex: {
        "EmailHolderAdded": {"programme", "email", "customer_id"},
        "EmailHolderRemoved": {"customer_id"},
    },
    ItemOutcome: {
        "ItemProcessed": {
            "programme",
            "guid",
            "fingerprint",
            "position",
            "customer_id",
            "result",
        },
        "ItemResent": {"position", "result"},
        "GuidReused": {"position", "fingerprint", "result"},
    },
}
"""docs/events.md: aggregate -> event class name -> attributes."""

CASES = [(aggregate, name) for aggregate, events in CONTRACT.items() for name in events]


@pytest.mark.parametrize(("aggregate", "name"), CASES)
def test_event_classes_carry_the_contract_names_and_attributes(aggregate: type, name: str) -> None:
    event_class = getattr(aggregate, name)

    assert event_class.__name__ == name
    fields = {field.name for field in dataclasses.fields(event_class)}
    assert CONTRACT[aggregate][name] <= fields


def test_amounts_and_aware_date_times_round_trip_through_the_event_store() -> None:
    world = World()
    moscow = timezone(timedelta(hours=3))
    item = WorkItem(
        command_id="cmd-1",
        type_of_command=CommandType.ADD_CUSTOMER_POINT_MESSAGE,
        programme="default",
        guid="g-1",
        uniq_id="u1",
        accrual=Accrual(
            amount=Decimal("200.00"),
            event_id="ev",
            event_date=datetime(2015, 1, 1, tzinfo=moscow),
            event_type="operation",
            operation_amount=Decimal("100.0000"),
        ),
        message=Message(text="m", show_count=2, show_till=datetime(2030, 1, 1, tzinfo=moscow)),
    )
    world.one(item)

    _, accrued, _, queued = world.events(ids.customer_id("default", "u1"))

    assert (str(accrued.amount), str(accrued.balance)) == ("200.00", "200.00")
    assert str(accrued.operation_amount) == "100.0000"
    assert accrued.event_date == datetime(2015, 1, 1, tzinfo=moscow)
    assert accrued.event_date.utcoffset() == timedelta(hours=3)
    assert queued.show_till.utcoffset() == timedelta(hours=3)
    assert accrued.timestamp.tzinfo is not None


def test_the_stored_outcome_rebuilds_the_authorization_result_with_its_messages() -> None:
    world = World()
    world.one(add("u1", message=Message(text="hello")))
    item = authorize("u1")

    result = world.one(item)

    (processed,) = world.events(ids.item_id("default", item.guid))
    assert processed.result["messages"][0]["text"] == "hello"
    assert "showsLeft" in processed.result["messages"][0]
    assert result.messages and result.messages[0].text == "hello"


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


def test_the_application_stores_events_and_their_kafka_position_together() -> None:
    world = World()
    book = CustomerBook(world.app.load)
    book.apply(add("u1", amount="1"), "loyalty.items:2:41")
    events = [event for aggregate in book.pending() for event in aggregate.collect_events()]

    world.app.events.put(events, tracking=Tracking("kafka:loyalty.items:2", 42))

    assert world.app.recorder.max_tracking_id("kafka:loyalty.items:2") == 42
    assert world.customer("u1") is not None
