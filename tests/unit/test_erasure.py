"""eraseCustomer forgets who a customer is and keeps what it earned: the phone, the e-mail and
the messages go, the data key of everything personal it stored is destroyed, its phone and
address are free for others; its points and operations stay. Through a real (in-memory) event
store, whose stored bytes are what the assertions read."""

from decimal import Decimal

from services import bootstrap
from services.domain import Rejection, ids
from services.domain.commands import Message
from tests.support.domain import PHONE_A, PHONE_B, World, add, authorize, erase

EMAIL = "Ann@Example.com"


def stored_bytes(world: World) -> bytes:
    """Every event and snapshot the store holds, as stored."""
    notifications = world.store.recorder.select_notifications(1, 100_000)
    return b"".join(notification.state for notification in notifications)


def registered(world: World) -> None:
    world.apply(add("ann", phone=PHONE_A, email=EMAIL, amount="100.00",
                    message=Message(text="Your secret offer", show_count=3)))
    world.apply(authorize("ann"))


def test_personal_fields_are_stored_sealed_and_read_back() -> None:
    world = World()
    registered(world)

    raw = stored_bytes(world)
    assert PHONE_A.encode() not in raw and b"79161234567" not in raw
    assert b"ann@example.com" not in raw.lower() and b"secret offer" not in raw
    ann = world.customer("ann")
    assert ann is not None and (ann.phone, ann.email) == (PHONE_A, EMAIL)
    assert [m.text for m in ann.messages.values()] == ["Your secret offer"]


def test_an_erased_customer_keeps_its_points_and_loses_its_personal_data() -> None:
    world = World()
    registered(world)
    answer = world.one(erase("ann"))

    assert answer.rejection is None and answer.login == "ann"
    ann = world.customer("ann")
    assert ann is not None
    assert (ann.phone, ann.email, ann.messages) == (None, None, {})
    assert ann.wallet.balances.active == Decimal("100.00"), "the points stay"
    assert ann.link_version == 1, "every login link stops working"
    assert ann.erased_on is not None
    created = world.events(ids.customer_id("default", "ann"))[0]
    assert (created.phone, created.email) == (None, None), "the old events read as erased"
    assert world.event_names("ann")[-1] == "CustomerErased"


def test_the_phone_and_address_of_an_erased_customer_are_free_for_others() -> None:
    world = World()
    registered(world)
    world.one(erase("ann"))

    assert world.phone_owner(PHONE_A) is None and world.email_holders(EMAIL) == []
    bob = world.one(add("bob", phone=PHONE_A, email=EMAIL))
    assert bob.rejection is None and bob.login == "bob"
    assert world.phone_owner(PHONE_A) == str(ids.customer_id("default", "bob"))


def test_an_erase_replayed_or_repeated_changes_nothing() -> None:
    world = World()
    registered(world)
    item = erase("ann")
    first = world.one(item)
    events = world.stored_event_count()

    assert world.one(item) == first, "the same item: the stored answer"
    again = world.one(erase("ann"))
    assert again.rejection is None
    assert world.event_names("ann").count("CustomerErased") == 1, "nothing left to erase"
    assert world.stored_event_count() > events  # the outcomes of the two items, no more


def test_an_erased_customer_given_a_phone_again_gets_a_key_of_its_own() -> None:
    world = World()
    registered(world)
    world.one(erase("ann"))
    world.apply(add("ann", phone=PHONE_B, amount="5.00"))

    ann = world.customer("ann")
    assert ann is not None and ann.phone == PHONE_B
    assert ann.wallet.balances.active == Decimal("105.00")
    events = world.events(ids.customer_id("default", "ann"))
    assert events[0].phone is None, "what the erased key sealed stays unreadable"


def test_an_unknown_customer_cannot_be_erased() -> None:
    world = World()
    assert world.one(erase("nobody")).rejection is Rejection.CUSTOMER_NOT_FOUND


def test_a_snapshot_taken_before_the_erasure_brings_nothing_back() -> None:
    world = World()
    world.store = bootstrap.in_memory_event_store(snapshot_interval=1)  # at every save
    registered(world)
    ann = world.customer("ann")
    assert ann is not None and world.store.snapshots is not None
    assert list(world.store.snapshots.get(ann.id)), "a snapshot holds the customer"
    assert PHONE_A.encode() not in b"".join(
        stored.state for stored in world.store.snapshots.recorder.select_events(ann.id))
    world.one(erase("ann"))

    reloaded = world.customer("ann")
    assert reloaded is not None and (reloaded.phone, reloaded.messages) == (None, {})


def test_a_login_answered_again_keeps_its_messages_sealed_and_erased_with_the_customer() -> None:
    world = World()
    world.apply(add("ann", amount="100.00",
                    message=Message(text="Your secret offer", show_count=3)))
    login = authorize("ann")
    first = world.one(login)
    again = world.one(login)  # the same item at a new position: ItemResent

    assert again == first and [m.text for m in again.messages or []] == ["Your secret offer"]
    assert b"secret offer" not in stored_bytes(world)
    world.one(erase("ann"))
    resent = world.events(ids.item_id("default", login.guid))[-1]
    assert type(resent).__name__ == "ItemResent"
    assert [shown["text"] for shown in resent.messages] == [None]
