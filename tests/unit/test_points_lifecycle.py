"""Every rule of docs/points.md on the unit of work: lots, reversals, spends, cancels, pending
points, expiry and debt, through a real (in-memory) event store."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from services.domain import Customer, Rejection
from services.domain.commands import PointsPolicy
from tests.support.domain import (
    NOW,
    World,
    assert_error,
    assert_success,
    block,
    cancel,
    earn,
    reverse,
    spend,
)

D = Decimal


def points(world: World, uniq_id: str = "u1") -> tuple[Decimal, Decimal, Decimal]:
    """(active, pending, debt) of the customer."""
    customer = world.customer(uniq_id)
    assert customer is not None
    balances = customer.wallet.balances
    return balances.active, balances.pending, balances.debt


def lot(world: World, guid: str, uniq_id: str = "u1") -> Any:
    customer = world.customer(uniq_id)
    assert isinstance(customer, Customer)
    return customer.wallet.lot(guid)


def names(world: World, uniq_id: str = "u1") -> list[str]:
    return world.event_names(uniq_id)


# --- lots and accruals -------------------------------------------------------------------------


def test_an_accrual_is_a_lot_of_active_points_by_default() -> None:
    world = World()
    item = earn("u1", "100.00")

    assert_success(world.one(item), "u1")

    assert points(world) == (D("100.00"), 0, 0)
    accrued = lot(world, item.guid)
    assert (accrued.amount, accrued.remaining, accrued.pending) == (D("100.00"), D("100.00"),
                                                                    False)


def test_points_available_later_are_pending_until_then_and_the_clock_activates_them() -> None:
    world = World()
    world.one(earn("u1", "50", available_from=NOW + timedelta(hours=1)))
    assert points(world) == (0, D(50), 0)

    world.settle("u1", NOW + timedelta(minutes=59))
    assert points(world) == (0, D(50), 0)
    world.settle("u1", NOW + timedelta(hours=1))

    assert points(world) == (D(50), 0, 0)
    assert names(world)[-1] == "PointsActivated"
    world.settle("u1", NOW + timedelta(hours=2))
    assert names(world).count("PointsActivated") == 1, "a re-run changes nothing"


def test_a_pending_lot_cannot_be_spent_before_its_available_from() -> None:
    world = World()
    world.one(earn("u1", "50", available_from=NOW + timedelta(days=1)))

    assert_error(world.one(spend("u1", "10")), Rejection.INSUFFICIENT_POINTS, "u1")
    world.now = NOW + timedelta(days=1)
    assert_success(world.one(spend("u1", "10")), "u1")
    assert points(world) == (D(40), 0, 0)


def test_the_programme_defaults_date_a_lot_that_names_no_dates() -> None:
    world = World(PointsPolicy(pending_days=14, validity_days=365))
    event_date = NOW - timedelta(days=1)
    item = earn("u1", "30", event_date=event_date)

    world.one(item)

    accrued = lot(world, item.guid)
    assert accrued.available_from == event_date + timedelta(days=14)
    assert accrued.expires_at == event_date + timedelta(days=14 + 365)
    assert points(world) == (0, D(30), 0)


def test_dates_the_item_names_win_over_the_defaults() -> None:
    world = World(PointsPolicy(pending_days=14, validity_days=365))
    expiry = NOW + timedelta(days=3)
    item = earn("u1", "30", available_from=NOW - timedelta(hours=1), expires_at=expiry)

    world.one(item)

    assert (lot(world, item.guid).expires_at, points(world)) == (expiry, (D(30), 0, 0))


# --- expiry -----------------------------------------------------------------------------------


def test_a_lot_expires_at_its_expiry_and_the_expiry_is_an_event() -> None:
    world = World()
    world.one(earn("u1", "40", expires_at=NOW + timedelta(seconds=5)))

    world.settle("u1", NOW + timedelta(seconds=5))

    assert points(world) == (0, 0, 0)
    assert names(world)[-1] == "PointsExpired"
    world.settle("u1", NOW + timedelta(seconds=6))
    assert names(world).count("PointsExpired") == 1


def test_a_lot_past_its_expiry_is_never_spent_even_before_the_expiry_is_recorded() -> None:
    world = World()
    world.one(earn("u1", "40", expires_at=NOW + timedelta(seconds=5)))
    world.now = NOW + timedelta(seconds=10)

    assert_error(world.one(spend("u1", "1")), Rejection.INSUFFICIENT_POINTS, "u1")
    assert "PointsExpired" in names(world)


# --- spends -----------------------------------------------------------------------------------


def test_a_spend_takes_the_lot_that_expires_soonest_then_the_oldest_then_by_guid() -> None:
    world = World()
    never = earn("u1", "10", guid="00000000-0000-4000-8000-000000000001",
                 event_date=NOW - timedelta(days=9))
    later = earn("u1", "10", expires_at=NOW + timedelta(days=20))
    sooner = earn("u1", "10", expires_at=NOW + timedelta(days=10))
    old_never = earn("u1", "10", guid="00000000-0000-4000-8000-000000000009",
                     event_date=NOW - timedelta(days=30))
    same_b = earn("u1", "10", guid="00000000-0000-4000-8000-00000000000b",
                  event_date=NOW - timedelta(days=9))
    world.apply(never, later, sooner, old_never, same_b)

    item = spend("u1", "45")
    assert_success(world.one(item), "u1")

    spent = world.events(world.customer("u1").id)[-1]  # type: ignore[union-attr]
    assert [(a["lot_guid"], a["amount"]) for a in spent.allocations] == [
        (sooner.guid, D(10)), (later.guid, D(10)), (old_never.guid, D(10)),
        (never.guid, D(10)), (same_b.guid, D(5))]
    assert points(world) == (D(5), 0, 0)


def test_a_spend_is_all_or_nothing() -> None:
    world = World()
    world.one(earn("u1", "30"))

    assert_error(world.one(spend("u1", "30.01")), Rejection.INSUFFICIENT_POINTS, "u1")
    assert points(world) == (D(30), 0, 0)
    assert "PointsSpent" not in names(world)


def test_a_blocked_customer_cannot_spend_but_reversals_still_apply() -> None:
    world = World()
    accrual = earn("u1", "30")
    world.one(accrual)
    world.one(block("u1"))

    assert_error(world.one(spend("u1", "5")), Rejection.CUSTOMER_BLOCKED, "u1")
    assert_success(world.one(reverse("u1", accrual.guid, "10")), "u1")
    assert points(world) == (D(20), 0, 0)


def test_nobody_is_spent_from() -> None:
    assert_error(World().one(spend("ghost", "1")), Rejection.CUSTOMER_NOT_FOUND, "ghost")


# --- reversals --------------------------------------------------------------------------------


def test_a_reversal_without_amount_takes_back_the_whole_accrual() -> None:
    world = World()
    accrual = earn("u1", "80")
    world.one(accrual)

    assert_success(world.one(reverse("u1", accrual.guid)), "u1")

    assert points(world) == (0, 0, 0)
    assert lot(world, accrual.guid).reversed == D(80)


def test_partial_reversals_never_exceed_the_accrual() -> None:
    world = World()
    accrual = earn("u1", "80")
    world.one(accrual)

    assert_success(world.one(reverse("u1", accrual.guid, "30")), "u1")
    assert_success(world.one(reverse("u1", accrual.guid, "50")), "u1")
    assert_error(world.one(reverse("u1", accrual.guid, "0.01")), Rejection.EXCEEDS_ORIGINAL,
                 "u1")
    assert_error(world.one(reverse("u1", accrual.guid)), Rejection.EXCEEDS_ORIGINAL, "u1")
    assert points(world) == (0, 0, 0)


def test_a_reversal_must_name_an_accrual_of_the_same_customer() -> None:
    world = World()
    theirs, mine = earn("other", "10"), earn("u1", "10")
    world.apply(theirs, mine)
    purchase = spend("u1", "5")
    world.one(purchase)

    for original in (theirs.guid, purchase.guid, "00000000-0000-4000-8000-00000000dead"):
        assert_error(world.one(reverse("u1", original)), Rejection.ORIGINAL_NOT_FOUND, "u1")
    assert_error(world.one(reverse("ghost", mine.guid)), Rejection.ORIGINAL_NOT_FOUND, "ghost")


def test_a_reversal_takes_remaining_then_expired_then_spent_points_as_debt() -> None:
    world = World()
    accrual = earn("u1", "100", expires_at=NOW + timedelta(days=1))
    other = earn("u1", "20")
    world.apply(accrual, other)
    world.one(spend("u1", "50"))  # 50 from the lot that expires first
    world.settle("u1", NOW + timedelta(days=1))  # its other 50 expire
    assert points(world) == (D(20), 0, 0)

    world.one(reverse("u1", accrual.guid, "100"))

    reversed_event = world.events(world.customer("u1").id)[-1]  # type: ignore[union-attr]
    assert (reversed_event.from_remaining, reversed_event.from_expired,
            reversed_event.to_debt) == (0, D(50), D(50))
    assert points(world) == (D(20), 0, D(50))


def test_debt_blocks_spending_and_is_repaid_first_from_the_next_accrual() -> None:
    world = World()
    accrual = earn("u1", "60")
    world.one(accrual)
    world.one(spend("u1", "60"))
    world.one(reverse("u1", accrual.guid))
    assert points(world) == (0, 0, D(60))

    world.one(earn("u1", "25"))
    assert points(world) == (0, 0, D(35))
    assert names(world)[-1] == "DebtRepaid"
    world.one(earn("u1", "50"))
    assert points(world) == (D(15), 0, 0)
    assert_success(world.one(spend("u1", "15")), "u1")


def test_with_debt_nothing_is_spent_even_when_active_points_remain() -> None:
    world = World()
    spent_lot, kept = earn("u1", "40"), earn("u1", "30", expires_at=NOW + timedelta(days=1))
    world.apply(spent_lot, kept)
    world.one(spend("u1", "30"))  # all of `kept`, which expires sooner
    world.one(spend("u1", "40"))
    world.one(earn("u1", "10"))
    world.one(reverse("u1", spent_lot.guid))

    assert points(world) == (D(10), 0, D(40))
    assert_error(world.one(spend("u1", "1")), Rejection.INSUFFICIENT_POINTS, "u1")


def test_a_pending_lot_repays_debt_when_it_becomes_active() -> None:
    world = World()
    accrual = earn("u1", "20")
    world.one(accrual)
    world.one(spend("u1", "20"))
    world.one(reverse("u1", accrual.guid))
    world.one(earn("u1", "50", available_from=NOW + timedelta(hours=1)))
    assert points(world) == (0, D(50), D(20))

    world.settle("u1", NOW + timedelta(hours=1))

    assert points(world) == (D(30), 0, 0)
    assert names(world)[-2:] == ["PointsActivated", "DebtRepaid"]


# --- cancels ----------------------------------------------------------------------------------


def test_a_cancelled_spend_returns_points_to_their_lots_with_their_own_expiry() -> None:
    world = World()
    soon = earn("u1", "10", expires_at=NOW + timedelta(days=5))
    late = earn("u1", "10", expires_at=NOW + timedelta(days=50))
    world.apply(soon, late)
    purchase = spend("u1", "15")
    world.one(purchase)

    assert_success(world.one(cancel("u1", purchase.guid, "8")), "u1")

    assert (lot(world, late.guid).remaining, lot(world, soon.guid).remaining) == (D(10), D(3))
    assert points(world) == (D(13), 0, 0)
    world.settle("u1", NOW + timedelta(days=5))
    assert points(world) == (D(10), 0, 0)


def test_cancels_never_exceed_the_spend_and_must_name_a_spend_of_the_customer() -> None:
    world = World()
    accrual = earn("u1", "30")
    world.one(accrual)
    purchase = spend("u1", "20")
    world.one(purchase)

    assert_success(world.one(cancel("u1", purchase.guid, "5")), "u1")
    assert_error(world.one(cancel("u1", purchase.guid, "15.01")), Rejection.EXCEEDS_ORIGINAL,
                 "u1")
    assert_success(world.one(cancel("u1", purchase.guid)), "u1")
    assert_error(world.one(cancel("u1", purchase.guid)), Rejection.EXCEEDS_ORIGINAL, "u1")
    assert_error(world.one(cancel("u1", accrual.guid)), Rejection.ORIGINAL_NOT_FOUND, "u1")
    assert points(world) == (D(30), 0, 0)


def test_points_given_back_to_a_lot_that_expired_meanwhile_expire_again_at_once() -> None:
    world = World()
    world.one(earn("u1", "10", expires_at=NOW + timedelta(days=1)))
    purchase = spend("u1", "10")
    world.one(purchase)
    world.settle("u1", NOW + timedelta(days=2))
    world.now = NOW + timedelta(days=2)

    assert_success(world.one(cancel("u1", purchase.guid)), "u1")

    assert points(world) == (0, 0, 0)
    assert names(world)[-2:] == ["SpendCancelled", "PointsExpired"]


def test_cancelling_a_spend_whose_points_were_reversed_into_debt_clears_the_debt() -> None:
    world = World()
    accrual = earn("u1", "100")
    world.one(accrual)
    purchase = spend("u1", "60")
    world.one(purchase)
    world.one(reverse("u1", accrual.guid))
    assert points(world) == (0, 0, D(60))

    world.one(cancel("u1", purchase.guid))

    assert points(world) == (0, 0, 0)


def test_a_cancel_after_the_debt_was_repaid_credits_the_points_back() -> None:
    world = World()
    accrual = earn("u1", "10")
    world.one(accrual)
    purchase = spend("u1", "10")
    world.one(purchase)
    world.one(reverse("u1", accrual.guid))
    world.one(earn("u1", "4"))  # repays 4 of the debt of 10
    assert points(world) == (0, 0, D(6))

    giving_back = cancel("u1", purchase.guid)
    world.one(giving_back)

    assert points(world) == (D(4), 0, 0)
    credited = lot(world, giving_back.guid)
    assert (credited.remaining, credited.credit, credited.expires_at) == (D(4), True, None)
    assert_error(world.one(reverse("u1", giving_back.guid)), Rejection.ORIGINAL_NOT_FOUND, "u1")


# --- idempotency ------------------------------------------------------------------------------


def test_a_resent_reversal_spend_or_cancel_changes_nothing_and_answers_the_same() -> None:
    world = World()
    accrual = earn("u1", "50")
    world.one(accrual)
    refund, purchase = reverse("u1", accrual.guid, "10"), spend("u1", "20")
    first = [world.one(refund), world.one(purchase)]
    giving_back = cancel("u1", purchase.guid, "5")
    first.append(world.one(giving_back))

    again = [world.one(refund), world.one(purchase), world.one(giving_back)]

    assert again == first
    assert points(world) == (D(25), 0, 0)
