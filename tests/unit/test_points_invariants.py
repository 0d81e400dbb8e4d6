"""Properties of any sequence of accruals, reversals, spends, cancels and clock ticks
(docs/points.md).

Whatever happens: active + pending - debt = accrued - reversed - spent + cancelled - expired
(expired: points that expired, less those a reversal took back from the expired part, which
count as reversed; a cancel's `credited` points count as cancelled); no lot's remaining points
are negative or above its amount, and every lot accounts for all of its points; the recorded
balances are the lots' sums; every allocation names a real lot.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.domain import Customer
from tests.support.domain import NOW, World, cancel, earn, reverse, spend

AMOUNTS = st.sampled_from(["0.01", "1", "5", "12.50", "40", "100"])
OFFSETS = st.none() | st.integers(min_value=-2, max_value=6)
"""Hours from now (None: no date)."""


@dataclass(frozen=True)
class Earn:
    amount: str
    available_in: int | None
    expires_in: int | None


@dataclass(frozen=True)
class Reverse:
    accrual: int
    amount: str | None


@dataclass(frozen=True)
class Spend:
    amount: str


@dataclass(frozen=True)
class Cancel:
    spend: int
    amount: str | None


@dataclass(frozen=True)
class Tick:
    hours: int


steps = st.lists(st.one_of(
    st.builds(Earn, AMOUNTS, OFFSETS, OFFSETS),
    st.builds(Reverse, st.integers(0, 9), st.none() | AMOUNTS),
    st.builds(Spend, AMOUNTS),
    st.builds(Cancel, st.integers(0, 9), st.none() | AMOUNTS),
    st.builds(Tick, st.integers(1, 4)),
), min_size=1, max_size=30)


def hours(offset: int | None) -> object:
    return None if offset is None else NOW + timedelta(hours=offset)


def run(world: World, step: object, accruals: list[str], spends: list[str]) -> None:
    match step:
        case Earn(amount, available_in, expires_in):
            available, expires = hours(available_in), hours(expires_in)
            if available is not None and expires is not None and expires <= available:
                expires = None
            item = earn("u1", amount, available_from=available, expires_at=expires)  # type: ignore[arg-type]
            accruals.append(item.guid)
            world.one(item)
        case Reverse(accrual, amount) if accruals:
            world.one(reverse("u1", accruals[accrual % len(accruals)], amount))
        case Spend(amount):
            item = spend("u1", amount)
            spends.append(item.guid)
            world.one(item)
        case Cancel(spent, amount) if spends:
            world.one(cancel("u1", spends[spent % len(spends)], amount))
        case Tick(ticked):
            world.now += timedelta(hours=ticked)
            world.settle("u1")


def assert_invariants(world: World) -> None:
    customer = world.customer("u1")
    if customer is None:
        return
    assert isinstance(customer, Customer)
    totals: dict[str, Decimal] = {}
    lots: set[str] = set()
    named: list[str] = []
    for event in world.events(customer.id):
        kind = type(event).__name__
        totals[kind] = totals.get(kind, Decimal(0)) + getattr(event, "amount", Decimal(0))
        if kind == "PointsAccrued" or (kind == "SpendCancelled" and event.credited > 0):
            lots.add(event.guid)
        if kind == "PointsReversed":
            totals["from_expired"] = totals.get("from_expired", Decimal(0)) + event.from_expired
            named.append(event.original_guid)
        named += [a["lot_guid"] for a in getattr(event, "allocations", [])]
        named += [event.lot_guid] if hasattr(event, "lot_guid") else []

    def total(kind: str) -> Decimal:
        return totals.get(kind, Decimal(0))

    wallet = customer.wallet
    balances = wallet.balances
    expired = total("PointsExpired") - total("from_expired")
    assert balances.active + balances.pending - balances.debt == (
        total("PointsAccrued") - total("PointsReversed") - total("PointsSpent")
        + total("SpendCancelled") - expired)
    assert balances.debt >= 0
    assert set(named) <= lots
    every_lot = [*wallet.lots.values(), *wallet.closed.values()]
    assert all(not lot.closed for lot in wallet.lots.values())
    assert all(lot.closed for lot in wallet.closed.values())
    for lot in every_lot:
        assert 0 <= lot.remaining <= lot.amount, lot
        assert min(lot.spent, lot.expired, lot.reversed, lot.reversed_spent) >= 0, lot
        assert lot.remaining + lot.spent + lot.expired + lot.reversed == lot.amount, lot
    assert balances.active == sum((lot.remaining for lot in every_lot
                                   if not lot.pending), Decimal(0))
    assert balances.pending == sum((lot.remaining for lot in every_lot
                                    if lot.pending), Decimal(0))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_points_always_add_up_and_every_lot_accounts_for_its_points(sequence: list[object],
                                                                    ) -> None:
    world = World()
    accruals: list[str] = []
    spends: list[str] = []
    for step in sequence:
        run(world, step, accruals, spends)
        assert_invariants(world)
