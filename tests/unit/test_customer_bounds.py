"""What one customer may hold is bounded (docs/decisions.md, "Bounds"), so that no customer's
data grows without bound and no answer or event outgrows a record: messages waiting and shown
per login, open and closed lots, spends, and the lots one spend takes from. At each bound the
item is applied; one past it is refused whole, with its error code, and nothing of it changes
anything."""

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.domain import Customer, Rejection
from services.domain.commands import Limits, Message
from tests.support.domain import (
    NOW,
    PHONE_A,
    World,
    add,
    assert_error,
    assert_success,
    authorize,
    cancel,
    earn,
    reverse,
    spend,
)

SMALL = Limits(max_queued_messages=3, max_shown_per_login=2, max_open_lots=3,
               max_closed_lots=2, max_spends=2, max_allocations=2)


def customer(world: World, uniq_id: str = "u1") -> Customer:
    found = world.customer(uniq_id)
    assert isinstance(found, Customer)
    return found


def test_messages_wait_up_to_the_bound_and_one_more_refuses_the_whole_item() -> None:
    world = World(limits=SMALL)
    for n in range(3):
        assert_success(world.one(add("u1", message=Message(text=f"m{n}"))), "u1")
    refused = add("u1", message=Message(text="m3"), amount="10", phone=PHONE_A)
    assert_error(world.one(refused), Rejection.MESSAGE_QUEUE_FULL, "u1")
    held = customer(world)
    assert len(held.messages) == 3
    assert held.balance == 0 and held.phone is None, "nothing of the refused item applied"


def test_messages_shown_for_the_last_time_make_room() -> None:
    world = World(limits=SMALL)
    for n in range(3):
        world.one(add("u1", message=Message(text=f"m{n}", show_count=1)))
    world.one(authorize("u1"))  # shows m0 and m1, their last show
    assert_success(world.one(add("u1", message=Message(text="m3"))), "u1")
    assert [m.text for m in customer(world).messages.values()] == ["m2", "m3"]


def test_a_login_shows_at_most_the_bound_oldest_first_and_the_rest_at_the_next() -> None:
    world = World(limits=SMALL)
    for n in range(3):
        world.one(add("u1", message=Message(text=f"m{n}", show_count=2)))
    first = world.one(authorize("u1")).messages or []
    second = world.one(authorize("u1")).messages or []
    assert [m.text for m in first] == ["m0", "m1"]
    assert [m.text for m in second] == ["m0", "m2"], "m2 not shown yet; oldest first"


def test_open_lots_up_to_the_bound_and_one_more_accrual_is_refused() -> None:
    world = World(limits=SMALL)
    for n in range(3):
        assert_success(world.one(earn("u1", "10", guid=f"a{n}")), "u1")
    assert_error(world.one(earn("u1", "10", guid="a3")), Rejection.TOO_MANY_LOTS, "u1")
    assert customer(world).balance == 30
    world.one(spend("u1", "10"))  # lot a0 is spent: closed, room for one more
    assert_success(world.one(earn("u1", "5", guid="a4")), "u1")
    assert customer(world).balance == 25


def test_the_oldest_closed_lots_beyond_the_bound_are_forgotten_and_cannot_be_reversed() -> None:
    world = World(limits=SMALL)
    for n in range(3):
        world.one(earn("u1", "1", guid=f"a{n}"))
    world.one(spend("u1", "2"))  # closes a0 and a1
    world.one(earn("u1", "1", guid="a3"))
    world.one(spend("u1", "2"))  # closes a2 and a3: four closed lots
    world.one(earn("u1", "1", guid="a4"))  # keeps the two youngest closed lots
    held = customer(world)
    assert list(held.wallet.closed) == ["a2", "a3"]
    assert "LotsForgotten" in world.event_names("u1")
    assert_error(world.one(reverse("u1", "a0")), Rejection.ORIGINAL_NOT_FOUND, "u1")
    assert_success(world.one(reverse("u1", "a3")), "u1")
    assert customer(world).wallet.balances.debt == 1


def test_a_cancel_of_a_spend_whose_lots_were_forgotten_gives_the_points_back() -> None:
    world = World(limits=Limits(max_closed_lots=0, max_spends=5))
    world.one(earn("u1", "4", guid="a0"))
    spent = spend("u1", "4")
    world.one(spent)
    world.one(earn("u1", "1", guid="a1"))  # forgets the closed lot a0
    assert customer(world).wallet.lot("a0") is None
    assert_success(world.one(cancel("u1", spent.guid)), "u1")
    assert customer(world).balance == 5


def test_a_spend_that_takes_from_more_lots_than_the_bound_is_refused() -> None:
    world = World(limits=SMALL)
    for n in range(3):
        world.one(earn("u1", "1", guid=f"a{n}"))
    assert_error(world.one(spend("u1", "3")), Rejection.TOO_MANY_ALLOCATIONS, "u1")
    assert_success(world.one(spend("u1", "2")), "u1")
    assert customer(world).balance == 1


ACTIONS = st.lists(st.sampled_from(["earn", "earn-expiring", "spend", "tick"]),
                   min_size=50, max_size=300)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ACTIONS)
def test_a_customers_lots_stay_bounded_however_long_it_accrues_spends_and_expires(
    actions: list[str],
) -> None:
    limits = Limits(max_open_lots=8, max_closed_lots=5, max_spends=5, max_allocations=8)
    world = World(limits=limits)
    for n, action in enumerate(actions):
        if action == "earn":
            world.one(earn("u1", "3", guid=f"a{n}"))
        elif action == "earn-expiring":
            world.one(earn("u1", "3", guid=f"a{n}", expires_at=world.now + timedelta(hours=2)))
        elif action == "spend":
            world.one(spend("u1", "2"))
        else:
            world.now += timedelta(hours=1)
            world.settle("u1")
        held = world.customer("u1")
        if held is not None:
            wallet = held.wallet
            assert len(wallet.lots) <= limits.max_open_lots
            assert len(wallet.closed) <= limits.max_closed_lots + limits.max_open_lots
            assert len(wallet.spends) <= limits.max_spends + 1
    assert world.now >= NOW
