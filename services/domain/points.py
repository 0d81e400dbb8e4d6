"""A customer's points as lots (docs/points.md): every accrual is a lot, and every debit says which
lots it drew from, so reversals, expiry and audits are exact.

The wallet holds the points rules, once. Each operation (`accrue`, `settle`, `reverse`, `spend`,
`cancel`) decides what it takes from which lot and records it as an event of the customer
through `record`, the customer's `trigger_event`; `apply` is the one place where those events
change the lots, when they are recorded and when the customer is loaded again. No I/O.

A lot's points are always accounted for: `amount = remaining + spent + expired + reversed`,
where `remaining` can still be used (active or pending), `spent` went to spends or to repay
debt, `expired` expired, and `reversed` was taken back by reversals (of which `reversed_spent`
came from spent points and became debt).

A wallet's work never grows with a customer's past: a lot with nothing left that can change by
itself (no remaining points, not pending, expired or never expiring) is *closed*: it moves out
of the open lots that settling and spending look at, and is kept only so that a reversal or a
cancel can still name it. The oldest closed lots and finished spends beyond the customer's
bounds are forgotten (`Limits`): an accrual or a spend that old can no longer be reversed or
cancelled.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from events.customer import (
    POINTS_CHANGED,
    DebtRepaid,
    LotsForgotten,
    PointsAccrued,
    PointsActivated,
    PointsExpired,
    PointsReversed,
    PointsSpent,
    SpendCancelled,
)
from services.domain import commands
from services.domain.answers import Rejection
from services.domain.commands import Accrual, Cancel, Limits, PointsPolicy, Reversal

ZERO = Decimal(0)

Record = Callable[..., None]
"""Records one event of the customer (its `trigger_event`, with the event's class and
attributes); the event is applied at once, so the next decision sees what it did."""

WALLET_EVENTS = (*POINTS_CHANGED, LotsForgotten)
"""The customer's events that `Wallet.apply` applies."""


@dataclass
class Lot:
    """The points of one accrual."""

    guid: str
    amount: Decimal
    event_date: datetime
    available_from: datetime | None
    expires_at: datetime | None
    remaining: Decimal = ZERO
    spent: Decimal = ZERO
    expired: Decimal = ZERO
    reversed: Decimal = ZERO
    reversed_spent: Decimal = ZERO
    pending: bool = False
    lapsed: bool = False
    """Past its expiry: its remaining points expired (points given back to it expire too)."""
    credit: bool = False
    """Not an accrual: points a cancel gave back for debt already repaid (see `Wallet`)."""

    def is_due_to_activate(self, now: datetime) -> bool:
        return self.pending and not self.lapsed and (
            self.available_from is None or self.available_from <= now)

    def is_due_to_expire(self, now: datetime) -> bool:
        return (not self.lapsed and self.expires_at is not None and self.expires_at <= now)

    def spendable(self, now: datetime) -> Decimal:
        """Points of the lot a spend may take at `now`: active and not past the expiry."""
        if self.pending or self.lapsed or (self.expires_at is not None and self.expires_at <= now):
            return ZERO
        return self.remaining

    @property
    def reversible(self) -> Decimal:
        """Points of the accrual not yet reversed (a credit is no accrual: none)."""
        return ZERO if self.credit else self.amount - self.reversed

    def given_back(self, share: Decimal) -> Decimal:
        """What of a cancel's `share` goes back to the lot's points: at most what was spent from
        it; the rest had been reversed into debt."""
        return min(share, self.spent)

    @property
    def closed(self) -> bool:
        """Nothing left that can change by itself: no points, not pending, and expired or
        never expiring (points a cancel gives back may open it again)."""
        return self.remaining <= 0 and not self.pending and (
            self.lapsed or self.expires_at is None)

    def spend_order(self) -> tuple[int, datetime, datetime, str]:
        """Soonest expiry first (no expiry last), then the oldest event, then the guid."""
        never = self.expires_at is None
        expiry = self.event_date if never else self.expires_at
        assert expiry is not None
        return (1 if never else 0, expiry, self.event_date, self.guid)


@dataclass(frozen=True)
class ReversalSplit:
    """Where a reversal takes its points from, in the order docs/points.md gives."""

    from_remaining: Decimal
    from_expired: Decimal
    to_debt: Decimal


def split_reversal(lot: Lot, amount: Decimal) -> ReversalSplit:
    """The lot's remaining points first, then its expired part, then its spent part (debt)."""
    from_remaining = min(amount, lot.remaining)
    from_expired = min(amount - from_remaining, lot.expired)
    return ReversalSplit(from_remaining, from_expired, amount - from_remaining - from_expired)


def allocate_spend(lots: list[Lot], amount: Decimal, now: datetime) -> list[tuple[str, Decimal]]:
    """The lots a spend of `amount` takes from, in spend order; [] when the spendable points
    do not cover it (a spend is all or nothing)."""
    taken: list[tuple[str, Decimal]] = []
    left = amount
    for lot in sorted(lots, key=Lot.spend_order):
        if left <= 0:
            break
        share = min(left, lot.spendable(now))
        if share > 0:
            taken.append((lot.guid, share))
            left -= share
    return taken if left <= 0 else []


def allocate_return(spent_from: list[tuple[str, Decimal]], amount: Decimal,
                    ) -> list[tuple[str, Decimal]]:
    """The lots a cancel of `amount` gives back to: those the spend took from last first, each
    at most what the spend took from it (and has not yet given back)."""
    given: list[tuple[str, Decimal]] = []
    left = amount
    for lot_guid, taken in reversed(spent_from):
        share = min(left, taken)
        if share > 0:
            given.append((lot_guid, share))
            left -= share
    return given


def lot_dates(accrual: Accrual, policy: PointsPolicy) -> tuple[datetime | None, datetime | None]:
    """When an accrual's points become available and when they expire: the item's dates, else
    the programme's defaults (pending days after the event's date; validity days after that)."""
    available_from = accrual.available_from
    if available_from is None and policy.pending_days > 0:
        available_from = accrual.event_date + timedelta(days=policy.pending_days)
    expires_at = accrual.expires_at
    if expires_at is None and policy.validity_days is not None:
        start = available_from or accrual.event_date
        expires_at = start + timedelta(days=policy.validity_days)
    return available_from, expires_at


@dataclass
class Spend:
    """A spend, and what of it is still not given back, per lot."""

    guid: str
    amount: Decimal
    allocations: list[tuple[str, Decimal]] = field(default_factory=list)
    cancelled: Decimal = ZERO

    @property
    def cancellable(self) -> Decimal:
        return self.amount - self.cancelled

    def give_back(self, returned: list[tuple[str, Decimal]]) -> None:
        """Records points given back to lots: they are no longer taken from them."""
        left = dict(returned)
        kept: list[tuple[str, Decimal]] = []
        for lot_guid, taken in reversed(self.allocations):
            back = min(taken, left.get(lot_guid, ZERO))
            left[lot_guid] = left.get(lot_guid, ZERO) - back
            kept.append((lot_guid, taken - back))
        self.allocations = [(guid, taken) for guid, taken in reversed(kept) if taken > 0]
        self.cancelled += sum((amount for _, amount in returned), ZERO)


@dataclass(frozen=True)
class Balances:
    """A customer's points: spendable, not yet available, owed."""

    active: Decimal = ZERO
    pending: Decimal = ZERO
    debt: Decimal = ZERO


@dataclass
class Wallet:
    """A customer's lots, spends and debt, as their events made them."""

    lots: dict[str, Lot] = field(default_factory=dict)
    """The open lots: those settling and spending look at."""
    closed: dict[str, Lot] = field(default_factory=dict)
    """Closed lots, oldest first: kept for reversals and cancels that name them."""
    spends: dict[str, Spend] = field(default_factory=dict)
    """Spends not wholly given back, oldest first: kept for cancels."""
    balances: Balances = field(default_factory=Balances)

    def lot(self, guid: str) -> Lot | None:
        """The lot of this accrual (or credit), open or closed; None when unknown or
        forgotten."""
        return self.lots.get(guid) or self.closed.get(guid)

    def accrue(self, record: Record, guid: str, command_id: str, accrual: Accrual,
               now: datetime, policy: PointsPolicy, limits: Limits) -> None:
        """Adds the points of one accrual (amount > 0) as a lot, pending until `available_from`
        and expiring at `expires_at` (the programme's defaults where the item names none), after
        recording what is due at `now` and forgetting the oldest closed lots and spends beyond
        `limits`; points active at once repay debt first."""
        self.settle(record, now)
        self._forget_beyond(record, limits)
        available_from, expires_at = lot_dates(accrual, policy)
        available = available_from is None or available_from <= now
        after = self._after_lot(not available, accrual.amount)
        record(PointsAccrued, guid=guid, command_id=command_id, amount=accrual.amount,
               balance=after["active"], event_id=accrual.event_id,
               event_date=accrual.event_date, event_type=accrual.event_type, info=accrual.info,
               operation_type=accrual.operation_type,
               operation_amount=accrual.operation_amount, merchant_name=accrual.merchant_name,
               bank_product=accrual.bank_product, mcc=accrual.mcc, available=available,
               available_from=available_from, expires_at=expires_at, **after)
        if available:
            self._repay_debt(record, self.lots[guid])

    def settle(self, record: Record, now: datetime) -> None:
        """Records what is due at `now`, in time order: pending lots become active (and repay
        debt first), lots past their expiry lose their remaining points."""
        for _, kind, lot in self._due(now):
            if kind == "activate" and lot.is_due_to_activate(now):  # not expired meanwhile
                record(PointsActivated, lot_guid=lot.guid, amount=lot.remaining,
                       **self._after(active=lot.remaining, pending=-lot.remaining))
                self._repay_debt(record, lot)
            elif kind == "expire" and lot.is_due_to_expire(now):
                self._expire(record, lot)

    def reverse(self, record: Record, guid: str, reversal: Reversal,
                now: datetime) -> Rejection | None:
        """Takes back all (no amount) or part of an accrual: its remaining points, then its
        expired part, then its spent part, which becomes debt. Refused when there is no such
        accrual (or it was forgotten), or when it has less left than the amount."""
        lot = self.lot(reversal.original_guid)
        if lot is None or lot.credit:
            return Rejection.ORIGINAL_NOT_FOUND
        amount = lot.reversible if reversal.amount is None else reversal.amount
        if not 0 < amount <= lot.reversible:
            return Rejection.EXCEEDS_ORIGINAL
        self.settle(record, now)
        split = split_reversal(lot, amount)
        record(PointsReversed, guid=guid, original_guid=lot.guid, amount=amount,
               from_remaining=split.from_remaining, from_expired=split.from_expired,
               to_debt=split.to_debt, event_id=reversal.event_id,
               event_date=reversal.event_date, reason=reversal.reason,
               **self._after_lot(lot.pending, -split.from_remaining, debt=split.to_debt))
        return None

    def spend(self, record: Record, guid: str, spend: commands.Spend, now: datetime,
              limits: Limits) -> Rejection | None:
        """Spends active points, all or nothing, from the lots that expire soonest first
        (points due to become active may be spent, expired ones may not). Refused while there
        is debt, when the active points do not cover it, or when it would take from more lots
        than one spend may."""
        self.settle(record, now)
        taken = allocate_spend(list(self.lots.values()), spend.amount, now)
        if self.balances.debt > 0 or not taken:
            return Rejection.INSUFFICIENT_POINTS
        if len(taken) > limits.max_allocations:
            return Rejection.TOO_MANY_ALLOCATIONS
        self._forget_beyond(record, limits)
        record(PointsSpent, guid=guid, amount=spend.amount, allocations=allocations(taken),
               event_id=spend.event_id, event_date=spend.event_date,
               merchant_name=spend.merchant_name, info=spend.info,
               **self._after(active=-spend.amount))
        return None

    def cancel(self, record: Record, guid: str, cancel: Cancel,
               now: datetime) -> Rejection | None:
        """Gives back all (no amount) or part of a spend to the lots it took them from; those of
        a lot that expired meanwhile expire again at once. Refused when there is no such spend
        (or it was forgotten), or when it has less left to give back than the amount."""
        spent = self.spends.get(cancel.original_guid)
        if spent is None:
            return Rejection.ORIGINAL_NOT_FOUND
        amount = spent.cancellable if cancel.amount is None else cancel.amount
        if not 0 < amount <= spent.cancellable:
            return Rejection.EXCEEDS_ORIGINAL
        self.settle(record, now)
        shares = allocate_return(spent.allocations, amount)
        active, pending, cleared, credited = self._returned(shares)
        record(SpendCancelled, guid=guid, original_guid=spent.guid, amount=amount,
               allocations=allocations(shares), debt_cleared=cleared, credited=credited,
               **self._after(active=active + credited, pending=pending, debt=-cleared))
        for lot_guid, _ in shares:
            lot = self.lot(lot_guid)
            if lot is not None and lot.lapsed and lot.remaining > 0:
                self._expire(record, lot)
        return None

    def apply(self, event: Any) -> None:
        """Applies one of the customer's points events (`WALLET_EVENTS`) to the lots, the
        spends and the balances."""
        match event:
            case PointsAccrued():
                self.lots[event.guid] = Lot(
                    event.guid, event.amount, event.event_date, event.available_from,
                    event.expires_at, remaining=event.amount, pending=not event.available)
            case PointsActivated():
                lot = self.lots[event.lot_guid]
                lot.pending = False
                self._file(lot)
            case PointsExpired():
                lot = self._known(event.lot_guid)
                lot.remaining -= event.amount
                lot.expired += event.amount
                lot.lapsed = True
                self._file(lot)
            case DebtRepaid():
                self._take(event.lot_guid, event.amount)
            case PointsReversed():
                lot = self._known(event.original_guid)
                lot.remaining -= event.from_remaining
                lot.expired -= event.from_expired
                lot.spent -= event.to_debt
                lot.reversed += event.amount
                lot.reversed_spent += event.to_debt
                self._file(lot)
            case PointsSpent():
                taken = shares_of(event.allocations)
                for lot_guid, share in taken:
                    self._take(lot_guid, share)
                self.spends[event.guid] = Spend(event.guid, event.amount, taken)
            case SpendCancelled():
                self._give_back(event.guid, event.original_guid,
                                shares_of(event.allocations), event.credited, event.timestamp)
            case LotsForgotten():
                for guid in event.lot_guids:
                    self.closed.pop(guid, None)
                for guid in event.spend_guids:
                    self.spends.pop(guid, None)
        if isinstance(event, POINTS_CHANGED):  # every change of points says where they stand
            self.balances = Balances(event.active, event.pending, event.debt)

    def _due(self, now: datetime) -> list[tuple[datetime, str, Lot]]:
        """Activations and expiries due at `now`, in time order (an activation before an
        expiry at the same instant)."""
        due: list[tuple[datetime, str, Lot]] = []
        for lot in self.lots.values():
            if lot.is_due_to_activate(now):
                due.append((lot.available_from or now, "activate", lot))
            if lot.is_due_to_expire(now):
                assert lot.expires_at is not None
                due.append((lot.expires_at, "expire", lot))
        return sorted(due, key=lambda entry: (entry[0], entry[1] == "expire", entry[2].guid))

    def _returned(self, shares: list[tuple[str, Decimal]]) -> tuple[Decimal, Decimal, Decimal,
                                                                    Decimal]:
        """What giving these shares back to their lots does: (to active, to pending, debt
        cleared, credited). A lot's spent points go back to it; the rest had been reversed into
        debt: it clears the debt, and what the debt no longer holds (repaid meanwhile from
        later points) is credited back as a lot of its own."""
        active = pending = charged = ZERO
        for lot_guid, share in shares:
            lot = self.lot(lot_guid)
            back = ZERO if lot is None else lot.given_back(share)  # forgotten: as debt
            if lot is not None and lot.pending:
                pending += back
            else:
                active += back
            charged += share - back
        cleared = min(charged, self.balances.debt)
        return active, pending, cleared, charged - cleared

    def _expire(self, record: Record, lot: Lot) -> None:
        record(PointsExpired, lot_guid=lot.guid, amount=lot.remaining,
               **self._after_lot(lot.pending, -lot.remaining))

    def _repay_debt(self, record: Record, lot: Lot) -> None:
        repaid = min(self.balances.debt, lot.remaining)
        if repaid > 0:
            record(DebtRepaid, lot_guid=lot.guid, amount=repaid,
                   **self._after(active=-repaid, debt=-repaid))

    def _forget_beyond(self, record: Record, limits: Limits) -> None:
        """Forgets the oldest closed lots and spends beyond the bounds."""
        lots = list(self.closed)[:max(0, len(self.closed) - limits.max_closed_lots)]
        spends = list(self.spends)[:max(0, len(self.spends) - limits.max_spends)]
        if lots or spends:
            record(LotsForgotten, lot_guids=lots, spend_guids=spends)

    def _after(self, *, active: Decimal = ZERO, pending: Decimal = ZERO,
               debt: Decimal = ZERO) -> dict[str, Decimal]:
        """The balances after changes by these amounts, as an event's attributes."""
        now = self.balances
        return {"active": now.active + active, "pending": now.pending + pending,
                "debt": now.debt + debt}

    def _after_lot(self, pending: bool, points: Decimal,
                   debt: Decimal = ZERO) -> dict[str, Decimal]:
        """The balances after a lot gains (or loses) `points`: pending ones while the lot is
        pending, else active ones."""
        if pending:
            return self._after(pending=points, debt=debt)
        return self._after(active=points, debt=debt)

    def _take(self, lot_guid: str, amount: Decimal) -> None:
        lot = self.lots[lot_guid]
        lot.remaining -= amount
        lot.spent += amount
        self._file(lot)

    def _give_back(self, guid: str, spend_guid: str, shares: list[tuple[str, Decimal]],
                   credited: Decimal, at: datetime) -> None:
        for lot_guid, share in shares:
            lot = self.lot(lot_guid)
            if lot is None:
                continue  # forgotten: its share went to the debt or the credit
            back = lot.given_back(share)
            lot.spent -= back
            lot.remaining += back
            lot.reversed_spent -= share - back
            self._file(lot)
        self.spends[spend_guid].give_back(shares)
        if credited > 0:
            self.lots[guid] = Lot(guid, credited, at, None, None, remaining=credited,
                                  credit=True)

    def _file(self, lot: Lot) -> None:
        """Keeps a lot among the open or the closed ones, as its points say."""
        if lot.closed:
            self.lots.pop(lot.guid, None)
            self.closed[lot.guid] = lot
        else:
            self.closed.pop(lot.guid, None)
            self.lots[lot.guid] = lot

    def _known(self, lot_guid: str) -> Lot:
        lot = self.lot(lot_guid)
        if lot is None:
            raise KeyError(lot_guid)
        return lot


def allocations(shares: list[tuple[str, Decimal]]) -> list[dict[str, Any]]:
    """Shares of lots as an event's `allocations`."""
    return [{"lot_guid": lot, "amount": share} for lot, share in shares]


def shares_of(allocations: list[Any]) -> list[tuple[str, Decimal]]:
    """An event's `allocations` as shares of lots."""
    return [(allocation["lot_guid"], allocation["amount"]) for allocation in allocations]
