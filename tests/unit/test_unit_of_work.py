"""Idempotency by guid and position, and several items touching one customer in one unit of
work."""

import dataclasses
from decimal import Decimal

from services.domain import Rejection, UnitOfWork, ids
from services.domain.commands import Message
from services.domain.outcomes import answer_of
from tests.support.domain import (
    PHONE_A,
    PHONE_B,
    World,
    add,
    assert_error,
    assert_success,
    authorize,
)


def outcome_event_names(world: World, guid: str) -> list[str]:
    return [type(e).__name__ for e in world.events(ids.item_id("default", guid))]


def test_every_item_records_its_outcome_with_the_result_it_returned() -> None:
    world = World()
    item = add("u1", amount="5")

    (result,) = world.apply_at([(item, "loyalty.items:3:17")])

    (processed,) = world.events(ids.item_id("default", item.guid))
    assert type(processed).__name__ == "ItemProcessed"
    assert (processed.programme, processed.guid, processed.position) == (
        "default",
        item.guid,
        "loyalty.items:3:17",
    )
    assert processed.fingerprint == item.fingerprint
    assert processed.customer_id == str(ids.customer_id("default", "u1"))
    assert answer_of(processed) == result


def test_a_rejection_is_stored_as_an_outcome_too() -> None:
    world = World()
    world.one(add("owner", phone=PHONE_A))
    item = add("newcomer", phone=PHONE_A)

    result = world.one(item)

    (processed,) = world.events(ids.item_id("default", item.guid))
    assert processed.customer_id is None
    assert processed.error_code == "PHONE_BELONGS_TO_ANOTHER_CUSTOMER"
    assert answer_of(processed) == result


def test_a_redelivery_at_the_same_position_records_nothing() -> None:
    world = World()
    item = add("u1", amount="5")
    world.apply_at([(item, "loyalty.items:0:1")])
    stored = world.stored_event_count()

    assert world.apply_at([(item, "loyalty.items:0:1")]) == [None]

    assert world.stored_event_count() == stored
    customer = world.customer("u1")
    assert customer is not None
    assert customer.balance == Decimal("5")


def test_a_resent_item_at_a_new_position_returns_the_identical_result() -> None:
    world = World()
    world.one(add("owner", phone=PHONE_A))
    item = add("newcomer", phone=PHONE_A, amount="5")
    first = world.one(item)
    world.one(add("owner", phone=PHONE_B))  # the phone is free now: the world changed

    again = world.one(item)

    assert again == first
    assert_error(again, Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER, "newcomer")
    assert world.customer("newcomer") is None
    assert outcome_event_names(world, item.guid) == ["ItemProcessed", "ItemResent"]
    resent = world.events(ids.item_id("default", item.guid))[-1]
    assert answer_of(resent) == first


def test_a_resent_item_keeps_the_command_id_of_the_first_result() -> None:
    world = World()
    item = add("u1", amount="5")
    first = world.one(item)

    again = world.one(dataclasses.replace(item, command_id="another-command"))

    assert again == first
    customer = world.customer("u1")
    assert customer is not None
    assert customer.balance == Decimal("5")


def test_both_positions_of_a_resent_item_are_redeliveries_afterwards() -> None:
    world = World()
    item = add("u1", amount="5")
    world.apply_at([(item, "loyalty.items:0:1")])
    world.apply_at([(item, "loyalty.items:0:2")])

    assert world.apply_at([(item, "loyalty.items:0:1"), (item, "loyalty.items:0:2")]) == [
        None,
        None,
    ]


def test_a_reused_guid_with_other_content_is_duplicate_guid_and_changes_nothing() -> None:
    world = World()
    first = add("u1", amount="5")
    world.one(first)
    reused = add("u2", guid=first.guid, amount="7")

    result = world.one(reused)

    assert_error(result, Rejection.DUPLICATE_GUID, "u2")
    assert (result.command_id, result.type_of_command, result.guid) == (
        reused.command_id,
        "addCustomerPointMessage",
        first.guid,
    )
    assert world.customer("u2") is None
    assert outcome_event_names(world, first.guid) == ["ItemProcessed", "GuidReused"]
    reused_event = world.events(ids.item_id("default", first.guid))[-1]
    assert reused_event.fingerprint == reused.fingerprint
    assert answer_of(reused_event) == result


def test_guids_are_scoped_to_a_programme() -> None:
    world = World()
    item = add("u1", amount="5")
    world.one(item)

    other = world.one(dataclasses.replace(item, programme="shop"))

    assert_success(other, "u1")
    assert world.customer("u1", programme="shop") is not None


def test_two_items_for_one_new_customer_in_one_unit_of_work() -> None:
    world = World()

    results = world.apply(add("u1", phone=PHONE_A, amount="10"), add("u1", amount="15"))

    for result in results:
        assert_success(result, "u1")
    assert world.event_names("u1") == [
        "CustomerCreated",
        "PointsAccrued",
        "CustomerActivated",
        "PointsAccrued",
    ]
    customer = world.customer("u1")
    assert customer is not None
    assert customer.balance == Decimal("25")


def test_the_same_item_twice_in_one_book_is_resent_not_applied_twice() -> None:
    world = World()
    item = add("u1", amount="10")

    first, second = world.apply(item, item)

    assert first == second
    customer = world.customer("u1")
    assert customer is not None
    assert customer.balance == Decimal("10")


def test_a_phone_released_by_a_moves_to_b_within_one_unit_of_work() -> None:
    world = World()
    world.one(add("a", phone=PHONE_A))

    results = world.apply(
        add("b", phone=PHONE_A),  # still A's: refused
        add("a", phone=PHONE_B),  # A moves on and frees PHONE_A
        add("b", phone=PHONE_A),  # now B takes it
    )

    assert_error(results[0], Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER, "b")
    assert_success(results[1], "a")
    assert_success(results[2], "b")
    assert world.phone_owner(PHONE_A) == str(ids.customer_id("default", "b"))
    assert world.phone_owner(PHONE_B) == str(ids.customer_id("default", "a"))
    phone_events = [type(e).__name__ for e in world.events(ids.phone_id("default", PHONE_A))]
    assert phone_events == ["PhoneClaimed", "PhoneReleased", "PhoneClaimed"]


def test_an_authorization_after_a_message_in_the_same_book_shows_it() -> None:
    world = World()

    _, login = world.apply(add("u1", message=Message(text="hi")), authorize("u1"))

    assert_success(login, "u1")
    assert login is not None
    assert [(m.text, m.shows_left) for m in login.messages or []] == [("hi", 0)]


def test_an_item_that_cannot_be_applied_is_answered_processing_failed_once() -> None:
    world = World()
    item = add("u1", amount="5")
    work = UnitOfWork(world.store.load)

    failed = work.fail(item, "loyalty.items:0:99")
    world.store.save(*work.pending())
    again = world.one(item)

    assert failed is not None
    assert_error(failed, Rejection.PROCESSING_FAILED, "u1")
    assert again == failed
    assert world.customer("u1") is None
    assert outcome_event_names(world, item.guid) == ["ItemProcessed", "ItemResent"]


def test_a_failing_record_of_a_guid_already_answered_changes_nothing() -> None:
    world = World()
    item = add("u1", amount="5")
    first = world.one(item)
    work = UnitOfWork(world.store.load)

    assert work.fail(item, "loyalty.items:0:9") is None
    assert work.pending() == []
    assert world.one(item) == first
