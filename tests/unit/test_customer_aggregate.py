"""The aggregates alone, without a unit of work or a store: they refuse what breaks a rule."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.domain import Customer, CustomerStatus, EmailIndex, PhoneIndex, Rejection, ids
from services.domain.commands import Limits, Message, PointsPolicy, Spend
from services.domain.errors import RuleViolationError
from tests.support.domain import PHONE_A, add

NOW = datetime(2024, 5, 1, tzinfo=UTC)


def blocked_customer() -> Customer:
    customer = Customer.register(add("u1", quick=True))
    customer.block("fraud")
    return customer


def test_a_customer_id_is_its_deterministic_id() -> None:
    customer = Customer.register(add("u1"))

    assert customer.id == ids.customer_id("default", "u1")
    assert customer.status is CustomerStatus.NEW
    assert [type(e).__name__ for e in customer.collect_events()] == ["CustomerCreated"]


def test_a_blocked_customer_refuses_accruals_contacts_messages_logins_and_spends() -> None:
    customer = blocked_customer()
    customer.collect_events()
    item = add("u1", phone=PHONE_A, email="x@example.com", amount="1",
               message=Message(text="x"))

    assert customer.add_bonus(item, None, NOW, PointsPolicy(), Limits()) \
        is Rejection.CUSTOMER_BLOCKED
    assert customer.authorize("g2", "link", NOW) is Rejection.CUSTOMER_BLOCKED
    assert customer.spend("g3", Spend(amount=Decimal(1), event_id="o", event_date=NOW),
                          NOW) is Rejection.CUSTOMER_BLOCKED
    assert customer.collect_events() == []
    assert (customer.balance, customer.phone, customer.email, customer.messages) == (
        0, None, None, {})


def test_a_customer_takes_no_bonus_item_whose_phone_another_customer_holds() -> None:
    customer = Customer.register(add("u1", quick=True))
    customer.collect_events()
    item = add("u1", phone=PHONE_A, amount="1")

    holder = str(ids.customer_id("default", "u2"))
    assert customer.add_bonus(item, holder, NOW, PointsPolicy(), Limits()) \
        is Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER
    assert customer.collect_events() == []
    assert customer.add_bonus(item, str(customer.id), NOW, PointsPolicy(), Limits()) is None
    assert [type(e).__name__ for e in customer.collect_events()] == [
        "PhoneChanged", "PointsAccrued"]


def test_a_customer_refuses_a_login_through_a_link_older_than_its_links() -> None:
    customer = Customer.register(add("u1"))
    customer.revoke_links("g2")

    assert customer.authorize("g3", "link", NOW, link_version=0) is Rejection.LINK_REVOKED
    assert customer.status is CustomerStatus.NEW
    customer.authorize("g4", "link", NOW, link_version=1)
    customer.authorize("g5", "self", NOW)
    assert customer.status is CustomerStatus.ACTIVE


def test_a_phone_held_by_one_customer_cannot_be_claimed_by_another() -> None:
    first, second = ids.customer_id("default", "a"), ids.customer_id("default", "b")
    index = PhoneIndex.first_claim("default", "+79161234567", first)

    with pytest.raises(RuleViolationError):
        index.claim(second)
    index.release(second)  # not the holder: nothing happens
    assert index.owner == str(first)

    index.release(first)
    index.claim(second)
    assert index.owner == str(second)
    assert [type(e).__name__ for e in index.collect_events()] == [
        "PhoneClaimed",
        "PhoneReleased",
        "PhoneClaimed",
    ]


def test_an_email_index_keeps_its_holders_in_the_order_they_came() -> None:
    first, second = ids.customer_id("default", "a"), ids.customer_id("default", "b")
    index = EmailIndex.first_holder("default", "Shared@Example.com", first)
    index.add_holder(second)
    index.add_holder(second)

    assert index.email == "shared@example.com"
    assert index.longest_holder == first
    index.remove_holder(first)
    assert index.longest_holder == second
    index.remove_holder(second)
    assert index.longest_holder is None
