"""Every rule of docs/rules.md on the unit of work, through a real (in-memory) event store.

Each `World.apply` runs one unit of work over a batch and saves what it recorded with
eventsourcing's POPO persistence; the next batch loads the aggregates back from the stored
events, so every test also crosses the event transcoder.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.contract.commands import WorkItem
from services.contract.mapping import command_of
from services.domain import CustomerStatus, Rejection, ids
from services.domain.commands import Message
from tests.support.domain import (
    NOW,
    PHONE_A,
    PHONE_B,
    World,
    activate,
    add,
    assert_error,
    assert_success,
    authorize,
    block,
    revoke_links,
)

# --- creation (rule 4, source 3.1) -------------------------------------------------------------


def test_the_seed_example_creates_a_customer_who_the_accrual_activates() -> None:
    world = World()
    item = WorkItem.model_validate(
        {
            "commandId": "seed",
            "typeOfCommand": "addCustomerPointMessage",
            "programme": "default",
            "guid": "9803d32e-8fcd-4984-a736-9f02f726b3c0",
            "uniqId": "12345678",
            "accrual": {
                "amount": "200.00",
                "eventId": "123456",
                "eventDate": "2015-01-01T00:00:00+03:00",
                "eventType": "operation",
                "operationType": "purchase",
                "operationAmount": "100.0000",
                "merchantName": "TZUM",
                "bankProduct": "Gold card",
                "mcc": "Petrol station",
            },
            "message": {
                "text": "Message for customer",
                "showCount": 3,
                "showTill": "2019-10-23T18:25:43.511Z",
            },
        }
    )

    result = world.one(command_of(item))

    assert_success(result, "12345678")
    assert (result.guid, result.command_id) == (item.guid, "seed")
    assert world.event_names("12345678") == [
        "CustomerCreated",
        "PointsAccrued",
        "CustomerActivated",
        "MessageQueued",
    ]
    created, accrued, activated, queued = world.events(ids.customer_id("default", "12345678"))
    assert (created.status, created.uniq_id, created.guid) == ("New", "12345678", item.guid)
    assert accrued.amount == accrued.balance == Decimal("200.00")
    assert (accrued.merchant_name, accrued.bank_product, accrued.mcc) == (
        "TZUM",
        "Gold card",
        "Petrol station",
    )
    assert accrued.operation_amount == Decimal("100.0000")
    assert activated.cause == "accrual"
    assert (queued.text, queued.show_count) == ("Message for customer", 3)
    assert queued.show_till == datetime(2019, 10, 23, 18, 25, 43, 511000, tzinfo=UTC)
    customer = world.customer("12345678")
    assert customer is not None
    assert customer.status is CustomerStatus.ACTIVE
    assert customer.balance == Decimal("200.00")
    assert customer.activated_on == activated.timestamp


def test_contacts_only_create_a_new_customer_who_holds_phone_and_email() -> None:
    world = World()

    assert_success(world.one(add("u1", phone=PHONE_A, email="Ann@Example.com")), "u1")

    customer = world.customer("u1")
    assert customer is not None
    assert (customer.status, customer.phone, customer.email) == (
        CustomerStatus.NEW,
        PHONE_A,
        "Ann@Example.com",
    )
    assert customer.balance == 0
    assert world.event_names("u1") == ["CustomerCreated"]  # created with both contacts
    (created,) = world.events(customer.id)
    assert (created.phone, created.email) == (PHONE_A, "Ann@Example.com")
    assert world.phone_owner(PHONE_A) == str(customer.id)
    assert world.email_holders("ann@example.com") == [str(customer.id)]


def test_add_bonus_ext_quick_creates_an_active_customer_without_messages() -> None:
    world = World()
    item = add("u1", quick=True, message=Message(text="ignored"))

    assert_success(world.one(item), "u1")

    customer = world.customer("u1")
    assert customer is not None
    assert customer.status is CustomerStatus.ACTIVE
    assert customer.activated_on == customer.created_on
    assert world.event_names("u1") == ["CustomerCreated"]


def test_a_message_without_accrual_keeps_the_customer_new_faq_1() -> None:
    world = World()

    assert_success(world.one(add("u1", message=Message(text="Welcome"))), "u1")

    customer = world.customer("u1")
    assert customer is not None
    assert customer.status is CustomerStatus.NEW
    assert [m.text for m in customer.messages.values()] == ["Welcome"]
    assert world.event_names("u1") == ["CustomerCreated", "MessageQueued"]


def test_a_new_uniq_id_with_a_phone_of_another_customer_creates_nobody_faq_4() -> None:
    world = World()
    world.one(add("owner", phone=PHONE_A, amount="10"))

    result = world.one(add("newcomer", phone=PHONE_A, amount="50", message=Message(text="x")))

    assert_error(result, Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER, "newcomer")
    assert world.customer("newcomer") is None
    owner = world.customer("owner")
    assert owner is not None
    assert owner.balance == Decimal("10")
    assert not owner.messages


def test_a_new_uniq_id_with_a_known_email_goes_to_its_longest_holder_faq_7() -> None:
    world = World()
    world.one(add("first", email="shared@example.com"))
    world.one(add("second", email="own@example.com"))
    world.one(add("second", email="shared@example.com"))

    result = world.one(add("newcomer", email="SHARED@example.com", amount="70"))

    assert_success(result, "first")
    assert world.customer("newcomer") is None
    first = world.customer("first")
    assert first is not None
    assert first.balance == Decimal("70")
    assert first.status is CustomerStatus.ACTIVE
    assert first.email == "shared@example.com"
    assert len(world.email_holders("shared@example.com")) == 2


def test_the_longest_holder_is_the_first_still_holding_the_address() -> None:
    world = World()
    world.one(add("first", email="shared@example.com"))
    world.one(add("second", email="own@example.com"))
    world.one(add("second", email="shared@example.com"))
    world.one(add("first", email="elsewhere@example.com"))

    result = world.one(add("newcomer", email="shared@example.com", amount="5"))

    assert_success(result, "second")
    second = world.customer("second")
    assert second is not None
    assert second.balance == Decimal("5")


def test_the_email_holder_gets_the_new_phone_as_in_rule_3() -> None:
    world = World()
    world.one(add("holder", phone=PHONE_A, email="h@example.com"))

    assert_success(world.one(add("newcomer", phone=PHONE_B, email="h@example.com")), "holder")

    holder = world.customer("holder")
    assert holder is not None
    assert holder.phone == PHONE_B
    assert world.phone_owner(PHONE_A) is None
    assert world.phone_owner(PHONE_B) == str(holder.id)


def test_a_blocked_email_holder_rejects_the_item_with_its_login() -> None:
    world = World()
    world.one(add("holder", email="h@example.com"))
    world.one(block("holder"))

    result = world.one(add("newcomer", email="h@example.com", amount="5"))

    assert_error(result, Rejection.CUSTOMER_BLOCKED, "holder")
    assert world.customer("newcomer") is None


# --- existing customers (rule 3) ---------------------------------------------------------------


def test_a_free_new_phone_replaces_the_old_one_and_points_accrue_faq_3() -> None:
    world = World()
    world.one(add("u1", phone=PHONE_A))

    assert_success(world.one(add("u1", phone=PHONE_B, amount="25.50")), "u1")

    customer = world.customer("u1")
    assert customer is not None
    assert (customer.phone, customer.balance) == (PHONE_B, Decimal("25.50"))
    assert world.phone_owner(PHONE_A) is None
    assert world.phone_owner(PHONE_B) == str(customer.id)
    phone_changes = [e for e in world.events(customer.id) if type(e).__name__ == "PhoneChanged"]
    assert [(e.phone, e.previous) for e in phone_changes] == [(PHONE_B, PHONE_A)]
    assert_success(world.one(add("u2", phone=PHONE_A)), "u2")


def test_a_new_phone_of_another_customer_is_refused_with_nothing_changed_faq_3() -> None:
    world = World()
    world.one(add("u1", phone=PHONE_A, email="one@example.com", amount="10"))
    world.one(add("u2", phone=PHONE_B))
    events_before = world.event_names("u1")

    item = add("u1", phone=PHONE_B, email="new@example.com", amount="90", message=Message(text="x"))
    result = world.one(item)

    assert_error(result, Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER, "u1")
    customer = world.customer("u1")
    assert customer is not None
    assert (customer.phone, customer.email, customer.balance) == (
        PHONE_A,
        "one@example.com",
        Decimal("10"),
    )
    assert not customer.messages
    assert world.event_names("u1") == events_before
    assert world.phone_owner(PHONE_B) == str(ids.customer_id("default", "u2"))


def test_the_same_phone_again_changes_nothing_and_accrues() -> None:
    world = World()
    world.one(add("u1", phone=PHONE_A))

    assert_success(world.one(add("u1", phone=PHONE_A, amount="1")), "u1")

    assert world.event_names("u1") == ["CustomerCreated", "PointsAccrued", "CustomerActivated"]


def test_a_new_email_replaces_the_old_one_even_when_shared_faq_5() -> None:
    world = World()
    world.one(add("u1", email="one@example.com"))
    world.one(add("u2", email="two@example.com"))

    assert_success(world.one(add("u1", email="two@example.com", amount="3")), "u1")

    u1, u2 = world.customer("u1"), world.customer("u2")
    assert u1 is not None and u2 is not None
    assert (u1.email, u2.email) == ("two@example.com", "two@example.com")
    assert u1.balance == Decimal("3")
    assert world.email_holders("two@example.com") == [str(u2.id), str(u1.id)]
    assert world.email_holders("one@example.com") == []


def test_an_address_unchanged_but_for_case_records_nothing() -> None:
    world = World()
    world.one(add("u1", email="Ann@Example.com"))

    assert_success(world.one(add("u1", email="ann@EXAMPLE.com")), "u1")

    assert world.event_names("u1") == ["CustomerCreated"]


def test_a_blocked_customer_gets_customer_blocked_and_nothing_changes() -> None:
    world = World()
    world.one(add("u1", phone=PHONE_A, amount="10"))
    world.one(block("u1"))
    events_before = world.event_names("u1")

    item = add("u1", phone=PHONE_B, email="x@example.com", amount="5", message=Message(text="x"))
    result = world.one(item)

    assert_error(result, Rejection.CUSTOMER_BLOCKED, "u1")
    assert world.event_names("u1") == events_before
    assert world.phone_owner(PHONE_B) is None


def test_accruals_add_up_in_the_balance() -> None:
    world = World()
    world.one(add("u1", amount="0.10"))
    world.one(add("u1", amount="0.20"))

    customer = world.customer("u1")
    assert customer is not None
    assert customer.balance == Decimal("0.30")
    balances = [e.balance for e in world.events(customer.id) if hasattr(e, "balance")]
    assert balances == [Decimal("0.10"), Decimal("0.30")]


def test_an_accrual_of_zero_records_no_points() -> None:
    world = World()

    world.one(add("u1", amount="0"))

    assert world.event_names("u1") == ["CustomerCreated"]


# --- blockCustomers, activateCustomers ---------------------------------------------------------


def test_blocking_and_activating_an_unknown_customer_is_customer_not_found() -> None:
    world = World()

    assert_error(world.one(block("ghost")), Rejection.CUSTOMER_NOT_FOUND, "ghost")
    assert_error(world.one(activate("ghost")), Rejection.CUSTOMER_NOT_FOUND, "ghost")
    assert world.customer("ghost") is None


def test_block_then_activate() -> None:
    world = World()
    world.one(add("u1"))

    assert_success(world.one(block("u1", reason="fraud")), "u1")
    customer = world.customer("u1")
    assert customer is not None
    assert customer.status is CustomerStatus.BLOCKED
    assert customer.blocked_on is not None
    assert world.events(customer.id)[-1].reason == "fraud"

    assert_success(world.one(activate("u1")), "u1")
    customer = world.customer("u1")
    assert customer is not None
    assert customer.status is CustomerStatus.ACTIVE
    assert world.events(customer.id)[-1].cause == "activateCustomers"


def test_blocking_a_blocked_customer_succeeds_and_records_nothing() -> None:
    world = World()
    world.one(add("u1"))
    world.one(block("u1"))

    assert_success(world.one(block("u1")), "u1")

    assert world.event_names("u1") == ["CustomerCreated", "CustomerBlocked"]


def test_activating_a_new_customer_makes_it_active_and_an_active_one_stays() -> None:
    world = World()
    world.one(add("u1"))

    assert_success(world.one(activate("u1")), "u1")
    assert_success(world.one(activate("u1")), "u1")

    assert world.event_names("u1") == ["CustomerCreated", "CustomerActivated"]


def test_a_blocked_customer_is_active_again_after_activate_and_accrues() -> None:
    world = World()
    world.one(add("u1"))
    world.one(block("u1"))
    world.one(activate("u1"))

    assert_success(world.one(add("u1", amount="4")), "u1")

    customer = world.customer("u1")
    assert customer is not None
    assert customer.balance == Decimal("4")


# --- authorizeCustomer -------------------------------------------------------------------------


def test_authorizing_an_unknown_customer_is_customer_not_found() -> None:
    world = World()

    result = world.one(authorize("ghost"))

    assert_error(result, Rejection.CUSTOMER_NOT_FOUND, "ghost")
    assert result.messages == []


def test_authorizing_a_blocked_customer_is_customer_blocked() -> None:
    world = World()
    world.one(add("u1", message=Message(text="hello")))
    world.one(block("u1"))

    assert_error(world.one(authorize("u1")), Rejection.CUSTOMER_BLOCKED, "u1")

    customer = world.customer("u1")
    assert customer is not None
    assert [m.shows_left for m in customer.messages.values()] == [1]


def test_authorizing_a_new_customer_activates_it() -> None:
    world = World()
    world.one(add("u1"))

    result = world.one(authorize("u1", method="self"))

    assert_success(result, "u1")
    assert result.messages == []
    assert world.event_names("u1")[1:] == ["CustomerAuthorized", "CustomerActivated"]
    _, authorized, activated = world.events(ids.customer_id("default", "u1"))
    assert (authorized.guid, authorized.method) == (result.guid, "self")
    assert activated.cause == "authorization"


def test_a_message_with_show_count_3_is_shown_at_3_authorizations_not_the_4th() -> None:
    world = World()
    world.one(add("u1", message=Message(text="Three times", show_count=3)))

    shown = [world.one(authorize("u1")).messages for _ in range(4)]

    message_id = ids.message_id("default", world.events(ids.customer_id("default", "u1"))[1].guid)
    assert [[(m.message_id, m.text, m.shows_left) for m in ms or []] for ms in shown] == [
        [(message_id, "Three times", 2)],
        [(message_id, "Three times", 1)],
        [(message_id, "Three times", 0)],
        [],
    ]
    assert world.event_names("u1").count("MessageShown") == 3


def test_a_message_whose_show_till_passed_is_never_shown() -> None:
    world = World()
    past = NOW - timedelta(days=1)
    world.one(add("u1", message=Message(text="Too late", show_count=5, show_till=past)))

    assert world.one(authorize("u1")).messages == []
    assert "MessageShown" not in world.event_names("u1")


def test_a_message_is_shown_until_its_show_till_then_no_more() -> None:
    world = World()
    till = NOW + timedelta(hours=1)
    world.one(add("u1", message=Message(text="Soon over", show_count=5, show_till=till)))

    first = world.one(authorize("u1")).messages
    world.now = till + timedelta(seconds=1)
    second = world.one(authorize("u1")).messages

    assert [m.shows_left for m in first or []] == [4]
    assert second == []


def test_every_due_message_is_shown_at_one_login_in_queue_order() -> None:
    world = World()
    world.one(add("u1", message=Message(text="first")))
    world.one(add("u1", message=Message(text="second", show_count=2)))

    result = world.one(authorize("u1"))

    assert [(m.text, m.shows_left) for m in result.messages or []] == [("first", 0), ("second", 1)]


def test_a_login_through_a_revoked_link_is_refused_and_changes_nothing() -> None:
    world = World()
    world.one(add("u1", message=Message(text="hello")))
    world.one(revoke_links("u1"))
    before = world.event_names("u1")

    result = world.one(authorize("u1", link_version=0))

    assert_error(result, Rejection.LINK_REVOKED, "u1")
    assert result.messages == []
    assert world.event_names("u1") == before
    customer = world.customer("u1")
    assert customer is not None and str(customer.status) == "New"


def test_a_login_through_the_current_link_or_without_one_is_let_in_after_a_revocation() -> None:
    world = World()
    world.one(add("u1", message=Message(text="hello", show_count=2)))
    world.one(revoke_links("u1"))
    world.one(revoke_links("u1"))

    assert_success(world.one(authorize("u1", link_version=2)), "u1")
    assert_success(world.one(authorize("u1", method="self")), "u1")
    assert world.event_names("u1").count("MessageShown") == 2


def test_a_login_through_a_link_processed_after_the_link_expired_is_refused() -> None:
    world = World()
    world.one(add("u1", message=Message(text="hello")))

    late = world.one(authorize("u1", link_version=0, link_expires_at=NOW))
    in_time = world.one(authorize("u1", link_version=0,
                                  link_expires_at=NOW + timedelta(seconds=1)))

    assert_error(late, Rejection.LINK_EXPIRED, "u1")
    assert_success(in_time, "u1")
    assert [m.text for m in in_time.messages or []] == ["hello"]


def test_a_revoked_link_is_refused_as_revoked_even_for_a_blocked_customer() -> None:
    world = World()
    world.one(add("u1"))
    world.one(revoke_links("u1"))
    world.one(block("u1"))

    assert_error(world.one(authorize("u1", link_version=0)), Rejection.LINK_REVOKED, "u1")
    assert_error(world.one(authorize("u1", link_version=1)), Rejection.CUSTOMER_BLOCKED, "u1")


# --- programmes --------------------------------------------------------------------------------


def test_programmes_do_not_share_customers_phones_or_emails() -> None:
    world = World()
    world.one(add("u1", phone=PHONE_A, email="e@example.com", programme="bank"))

    result = world.one(add("u2", phone=PHONE_A, email="e@example.com", programme="shop"))

    assert_success(result, "u2")
    assert world.customer("u1", programme="shop") is None
    assert world.customer("u2", programme="shop") is not None
    assert world.phone_owner(PHONE_A, programme="bank") == str(ids.customer_id("bank", "u1"))


# --- login links -------------------------------------------------------------------------------


def test_revoking_links_moves_the_customers_link_version_on() -> None:
    world = World()
    world.one(add("u1", amount="1"))
    world.one(block("u1"))

    assert_success(world.one(revoke_links("u1")), "u1")
    assert_success(world.one(revoke_links("u1")), "u1")

    customer = world.customer("u1")
    assert customer is not None and customer.link_version == 2
    assert world.event_names("u1")[-2:] == ["LinksRevoked", "LinksRevoked"]
    assert_error(world.one(revoke_links("ghost")), Rejection.CUSTOMER_NOT_FOUND, "ghost")
