"""A customer's points as lots (docs/points.md): every accrual is a lot, and every debit says which
lots it drew from, so reversals, expiry and audits are exact.

Pure values and functions: the customer aggregate asks them what an operation would take from
which lot, records that as an event, and applies the event to its lots.

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

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

ZERO = Decimal(0)


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

    def of(self) -> dict[str, Decimal]:
        return {"active": self.active, "pending": self.pending, "debt": self.debt}


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

    def forgettable(self, max_closed_lots: int, max_spends: int) -> tuple[list[str], list[str]]:
        """The oldest closed lots and spends beyond these bounds (forget them to stay within)."""
        lots = list(self.closed)[:max(0, len(self.closed) - max_closed_lots)]
        spends = list(self.spends)[:max(0, len(self.spends) - max_spends)]
        return lots, spends

    def apply_forgotten(self, lot_guids: list[str], spend_guids: list[str]) -> None:
        for guid in lot_guids:
            self.closed.pop(guid, None)
        for guid in spend_guids:
            self.spends.pop(guid, None)

    def _file(self, lot: Lot) -> None:
        """Keeps a lot among the open or the closed ones, as its points say."""
        if lot.closed:
            self.lots.pop(lot.guid, None)
            self.closed[lot.guid] = lot
        else:
            self.closed.pop(lot.guid, None)
            self.lots[lot.guid] = lot

    @property
    def active(self) -> Decimal:
        return self.balances.active

    @property
    def debt(self) -> Decimal:
        return self.balances.debt

    def after(self, *, active: Decimal = ZERO, pending: Decimal = ZERO,
              debt: Decimal = ZERO) -> dict[str, Decimal]:
        """The balances after changes by these amounts, as an event's attributes."""
        now = self.balances
        return Balances(now.active + active, now.pending + pending, now.debt + debt).of()

    def due(self, now: datetime) -> list[tuple[datetime, str, Lot]]:
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

    def returned(self, shares: list[tuple[str, Decimal]]) -> tuple[Decimal, Decimal, Decimal,
                                                                   Decimal]:
        """What giving these shares back to their lots does: (to active, to pending, debt
        cleared, credited). A lot's spent points go back to it; the rest had been reversed into
        debt: it clears the debt, and what the debt no longer holds (repaid meanwhile from
        later points) is credited back as a lot of its own."""
        active = pending = charged = ZERO
        for lot_guid, share in shares:
            lot = self.lot(lot_guid)
            back = ZERO if lot is None else min(share, lot.spent)  # forgotten: as debt
            if lot is not None and lot.pending:
                pending += back
            else:
                active += back
            charged += share - back
        cleared = min(charged, self.balances.debt)
        return active, pending, cleared, charged - cleared

    def apply_accrued(self, guid: str, amount: Decimal, event_date: datetime,
                      available: bool, available_from: datetime | None,
                      expires_at: datetime | None) -> None:
        self.lots[guid] = Lot(guid, amount, event_date, available_from, expires_at,
                              remaining=amount, pending=not available)

    def apply_activated(self, lot_guid: str) -> None:
        lot = self.lots[lot_guid]
        lot.pending = False
        self._file(lot)

    def apply_expired(self, lot_guid: str, amount: Decimal) -> None:
        lot = self._known(lot_guid)
        lot.remaining -= amount
        lot.expired += amount
        lot.lapsed = True
        self._file(lot)

    def apply_repaid(self, lot_guid: str, amount: Decimal) -> None:
        lot = self.lots[lot_guid]
        lot.remaining -= amount
        lot.spent += amount
        self._file(lot)

    def apply_reversed(self, lot_guid: str, amount: Decimal, split: ReversalSplit) -> None:
        lot = self._known(lot_guid)
        lot.remaining -= split.from_remaining
        lot.expired -= split.from_expired
        lot.spent -= split.to_debt
        lot.reversed += amount
        lot.reversed_spent += split.to_debt
        self._file(lot)

    def apply_spent(self, guid: str, amount: Decimal, taken: list[tuple[str, Decimal]]) -> None:
        for lot_guid, share in taken:
            self.apply_repaid(lot_guid, share)
        self.spends[guid] = Spend(guid, amount, list(taken))

    def apply_cancelled(self, guid: str, spend_guid: str, shares: list[tuple[str, Decimal]],
                        credited: Decimal, at: datetime) -> None:
        for lot_guid, share in shares:
            lot = self.lot(lot_guid)
            if lot is None:
                continue  # forgotten: its share went to the debt or the credit
            back = min(share, lot.spent)
            lot.spent -= back
            lot.remaining += back
            lot.reversed_spent -= share - back
            self._file(lot)
        self.spends[spend_guid].give_back(shares)
        if credited > 0:
            self.lots[guid] = Lot(guid, credited, at, None, None, remaining=credited,
                                  credit=True)

    def _known(self, lot_guid: str) -> Lot:
        lot = self.lot(lot_guid)
        if lot is None:
            raise KeyError(lot_guid)
        return lot
