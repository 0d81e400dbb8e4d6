"""The customer aggregate: its methods check, then record events; `when` applies them.

Nothing here performs I/O: the use cases load aggregates, call these methods and hand every
aggregate with pending events to one atomic save. The events are those of `events.customer`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate

from events.customer import (
    POINTS_CHANGED,
    CustomerActivated,
    CustomerAuthorized,
    CustomerBlocked,
    CustomerCreated,
    CustomerErased,
    DebtRepaid,
    EmailChanged,
    LinksRevoked,
    LotsForgotten,
    MessageQueued,
    MessageShown,
    PhoneChanged,
    PointsAccrued,
    PointsActivated,
    PointsExpired,
    PointsReversed,
    PointsSpent,
    SpendCancelled,
)
from services.domain import ids
from services.domain.answers import Rejection, ShownMessage
from services.domain.commands import (
    DEFAULT_LIMITS,
    Accrual,
    Cancel,
    Limits,
    Message,
    PointsPolicy,
    Reversal,
    Spend,
)
from services.domain.errors import RuleViolationError
from services.domain.points import (
    ZERO,
    Balances,
    Lot,
    ReversalSplit,
    Wallet,
    allocate_return,
    allocate_spend,
    split_reversal,
)


class CustomerStatus(StrEnum):
    """The statuses of source 3.2."""

    NEW = "New"
    ACTIVE = "Active"
    BLOCKED = "Blocked"


class ActivationCause(StrEnum):
    """Why a customer became `Active` (the `cause` of CustomerActivated)."""

    ACCRUAL = "accrual"
    AUTHORIZATION = "authorization"
    ACTIVATE_CUSTOMERS = "activateCustomers"


@dataclass
class QueuedMessage:
    """A message waiting in the customer's bonus window."""

    message_id: str
    text: str
    shows_left: int
    show_till: datetime | None
    show_count: int = 1

    @property
    def shown(self) -> int:
        return self.show_count - self.shows_left

    def is_due(self, now: datetime) -> bool:
        """Whether the message is shown at a login at `now`."""
        return self.shows_left > 0 and (self.show_till is None or now <= self.show_till)


class Customer(Aggregate):
    """A customer of one programme: status, phone, e-mail, balance and queued messages.

    `class_version` is the layout of its state in snapshots (`services.adapters.snapshots`):
    2 added `erased_on`; snapshots of another version are not read, the events are."""

    class_version = 2

    def __init__(self, programme: str, uniq_id: str, status: str, phone: str | None = None,
                 email: str | None = None) -> None:
        self.programme = programme
        self.uniq_id = uniq_id
        self.status = CustomerStatus(status)
        self.phone = phone
        self.email = email
        self.wallet = Wallet()
        self.messages: dict[str, QueuedMessage] = {}
        self.activated_on: datetime | None = None
        self.blocked_on: datetime | None = None
        self.erased_on: datetime | None = None
        self.link_version = 0

    @classmethod
    def register(cls, programme: str, uniq_id: str, status: CustomerStatus, guid: str,
                 phone: str | None = None, email: str | None = None) -> "Customer":
        """Creates the customer with this uniqId, `New` or `Active`, with its phone and e-mail
        (their indexes are the caller's business)."""
        return cls._create(CustomerCreated, id=ids.customer_id(programme, uniq_id),
                           programme=programme, uniq_id=uniq_id, status=status.value, guid=guid,
                           phone=phone, email=email)

    @property
    def balance(self) -> Decimal:
        """The active points: those that can be spent (docs/points.md)."""
        return self.wallet.active

    @property
    def is_blocked(self) -> bool:
        """Whether the customer is `Blocked` (only activateCustomers unblocks)."""
        return self.status is CustomerStatus.BLOCKED

    def has_email(self, email: str) -> bool:
        """Whether the customer's address is `email`, compared case-insensitively."""
        return self.email is not None and self.email.lower() == email.lower()

    def change_phone(self, phone: str) -> None:
        """Replaces the phone (its uniqueness is the PhoneIndex's business)."""
        self._require_unblocked()
        if phone != self.phone:
            self.trigger_event(PhoneChanged, phone=phone, previous=self.phone)

    def change_email(self, email: str) -> None:
        """Replaces the e-mail address unless it is the same one in another case."""
        self._require_unblocked()
        if not self.has_email(email):
            self.trigger_event(EmailChanged, email=email, previous=self.email)

    def refuses_bonus(self, accrual: Accrual | None, message: Message | None,
                      limits: Limits, phone_taken: bool = False) -> Rejection | None:
        """Why the customer takes no bonus item now (None: it takes it): blocked, a new phone
        that another customer holds (its index says so: `phone_taken`), or holding as many open
        lots, or waiting messages, as a customer may."""
        if self.is_blocked:
            return Rejection.CUSTOMER_BLOCKED
        if phone_taken:
            return Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER
        if accrual is not None and accrual.amount > 0 \
                and len(self.wallet.lots) >= limits.max_open_lots:
            return Rejection.TOO_MANY_LOTS
        if message is not None and len(self.messages) >= limits.max_queued_messages:
            return Rejection.MESSAGE_QUEUE_FULL
        return None

    def accrue(self, guid: str, command_id: str, accrual: Accrual, now: datetime,
               policy: PointsPolicy, limits: Limits = DEFAULT_LIMITS) -> None:
        """Adds the points of one item as a lot (pending until `available_from`, expiring at
        `expires_at`, the programme's defaults where the item names none), repays debt from
        them when they are active; a `New` customer becomes `Active` (source 3.3). The oldest
        closed lots and spends beyond `limits` are forgotten. (`refuses_bonus` decides first.)"""
        self._require_unblocked()
        if accrual.amount <= 0:
            return
        self.settle(now)
        self._forget_beyond(limits)
        available_from, expires_at = lot_dates(accrual, policy)
        available = available_from is None or available_from <= now
        amount = accrual.amount
        self.trigger_event(
            PointsAccrued, guid=guid, command_id=command_id, amount=amount,
            balance=self.balance + (amount if available else ZERO), event_id=accrual.event_id,
            event_date=accrual.event_date, event_type=accrual.event_type, info=accrual.info,
            operation_type=accrual.operation_type, operation_amount=accrual.operation_amount,
            merchant_name=accrual.merchant_name, bank_product=accrual.bank_product,
            mcc=accrual.mcc, available=available, available_from=available_from,
            expires_at=expires_at,
            **self.wallet.after(active=amount if available else ZERO,
                                pending=ZERO if available else amount),
        )
        if available:
            self._repay_debt(self.wallet.lots[guid])
        self._activate_if_new(ActivationCause.ACCRUAL)

    def settle(self, now: datetime) -> None:
        """Records what is due at `now`: pending lots become active (and repay debt first),
        lots past their expiry lose their remaining points."""
        for _, kind, lot in self.wallet.due(now):
            if kind == "activate" and lot.is_due_to_activate(now):
                self.trigger_event(PointsActivated, lot_guid=lot.guid, amount=lot.remaining,
                                   **self.wallet.after(active=lot.remaining,
                                                       pending=-lot.remaining))
                self._repay_debt(lot)
            elif kind == "expire" and lot.is_due_to_expire(now):
                self._expire(lot, lot.remaining)

    def reverse(self, guid: str, reversal: Reversal, now: datetime) -> Rejection | None:
        """Takes back all (no amount) or part of an accrual: its remaining points, then its
        expired part, then its spent part, which becomes debt (also of a blocked customer).
        Refused when there is no such accrual (or it was forgotten), or when it has less left
        than the amount."""
        lot = self.wallet.lot(reversal.original_guid)
        if lot is None or lot.credit:
            return Rejection.ORIGINAL_NOT_FOUND
        amount = lot.reversible if reversal.amount is None else reversal.amount
        if not 0 < amount <= lot.reversible:
            return Rejection.EXCEEDS_ORIGINAL
        self.settle(now)
        split = split_reversal(lot, amount)
        taken = -split.from_remaining
        self.trigger_event(
            PointsReversed, guid=guid, original_guid=lot.guid, amount=amount,
            from_remaining=split.from_remaining, from_expired=split.from_expired,
            to_debt=split.to_debt, event_id=reversal.event_id, event_date=reversal.event_date,
            reason=reversal.reason,
            **self.wallet.after(active=ZERO if lot.pending else taken,
                                pending=taken if lot.pending else ZERO, debt=split.to_debt))
        return None

    def spend(self, guid: str, spend: Spend, now: datetime,
              limits: Limits = DEFAULT_LIMITS) -> Rejection | None:
        """Spends active points, all or nothing, from the lots that expire soonest first
        (points due to become active may be spent, expired ones may not). Refused to a blocked
        customer, while there is debt, when the active points do not cover it, or when it would
        take from more lots than one spend may."""
        if self.is_blocked:
            return Rejection.CUSTOMER_BLOCKED
        self.settle(now)
        taken = allocate_spend(list(self.wallet.lots.values()), spend.amount, now)
        if self.wallet.debt > 0 or not taken:
            return Rejection.INSUFFICIENT_POINTS
        if len(taken) > limits.max_allocations:
            return Rejection.TOO_MANY_ALLOCATIONS
        self._forget_beyond(limits)
        self.trigger_event(
            PointsSpent, guid=guid, amount=spend.amount,
            allocations=[{"lot_guid": lot, "amount": share} for lot, share in taken],
            event_id=spend.event_id, event_date=spend.event_date,
            merchant_name=spend.merchant_name, info=spend.info,
            **self.wallet.after(active=-spend.amount))
        return None

    def cancel_spend(self, guid: str, cancel: Cancel, now: datetime) -> Rejection | None:
        """Gives back all (no amount) or part of a spend to the lots it took them from (also to
        a blocked customer); those of a lot that expired meanwhile expire again at once.
        Refused when there is no such spend (or it was forgotten), or when it has less left to
        give back than the amount."""
        spent = self.wallet.spends.get(cancel.original_guid)
        if spent is None:
            return Rejection.ORIGINAL_NOT_FOUND
        amount = spent.cancellable if cancel.amount is None else cancel.amount
        if not 0 < amount <= spent.cancellable:
            return Rejection.EXCEEDS_ORIGINAL
        self.settle(now)
        shares = allocate_return(spent.allocations, amount)
        active, pending, cleared, credited = self.wallet.returned(shares)
        self.trigger_event(
            SpendCancelled, guid=guid, original_guid=spent.guid, amount=amount,
            allocations=[{"lot_guid": lot, "amount": share} for lot, share in shares],
            debt_cleared=cleared, credited=credited,
            **self.wallet.after(active=active + credited, pending=pending, debt=-cleared))
        for lot_guid, _ in shares:
            lot = self.wallet.lot(lot_guid)
            if lot is not None and lot.lapsed and lot.remaining > 0:
                self._expire(lot, lot.remaining)
        return None

    def _expire(self, lot: Lot, amount: Decimal) -> None:
        self.trigger_event(PointsExpired, lot_guid=lot.guid, amount=amount,
                           **self.wallet.after(active=ZERO if lot.pending else -amount,
                                               pending=-amount if lot.pending else ZERO))

    def _repay_debt(self, lot: Lot) -> None:
        repaid = min(self.wallet.debt, lot.remaining)
        if repaid > 0:
            self.trigger_event(DebtRepaid, lot_guid=lot.guid, amount=repaid,
                               **self.wallet.after(active=-repaid, debt=-repaid))

    def _forget_beyond(self, limits: Limits) -> None:
        lots, spends = self.wallet.forgettable(limits.max_closed_lots, limits.max_spends)
        if lots or spends:
            self.trigger_event(LotsForgotten, lot_guids=lots, spend_guids=spends)

    def queue_message(self, message_id: str, guid: str, message: Message) -> None:
        """Queues a message for the bonus window, shown `show_count` times (`refuses_bonus`
        decides first)."""
        self._require_unblocked()
        if message_id not in self.messages:
            self.trigger_event(MessageQueued, message_id=message_id, guid=guid,
                               text=message.text, show_count=message.show_count,
                               show_till=message.show_till)

    def block(self, reason: str | None) -> None:
        """Blocks a `New` or `Active` customer; blocking a blocked one changes nothing."""
        if not self.is_blocked:
            self.trigger_event(CustomerBlocked, reason=reason)

    def activate(self, cause: ActivationCause) -> None:
        """Makes a `New` or `Blocked` customer `Active`; an active one stays as it is."""
        if self.status is not CustomerStatus.ACTIVE:
            self.trigger_event(CustomerActivated, cause=cause.value)

    def revoke_links(self, guid: str) -> None:
        """Every login link issued so far stops working."""
        self.trigger_event(LinksRevoked, guid=guid, link_version=self.link_version + 1)

    def erase(self, guid: str) -> None:
        """Forgets who the customer is: phone, e-mail and messages go, every login link stops
        working, and the store destroys the key of what it stored about them. The points and
        the status stay. A customer erased since it last held anything personal is left as
        it is."""
        if self.erased_on is not None and self.phone is None and self.email is None \
                and not self.messages:
            return
        self.trigger_event(CustomerErased, guid=guid, link_version=self.link_version + 1)

    def authorize(self, guid: str, method: str | None, now: datetime,
                  limits: Limits = DEFAULT_LIMITS, link_version: int | None = None,
                  link_expires_at: datetime | None = None) -> Rejection | list[ShownMessage]:
        """Records a login, activates a `New` customer and shows the messages due at `now`,
        oldest first: at most `limits.max_shown_per_login` of them, chosen among those shown
        least often (so the others come at the next logins). A login through a link (of
        `link_version`, expiring at `link_expires_at`) is refused when the customer's links
        were revoked since it was issued, or when it comes after the link expired, whatever
        the read models said when the link was opened; a blocked customer logs in no more."""
        if link_version is not None and link_version < self.link_version:
            return Rejection.LINK_REVOKED
        if link_expires_at is not None and now >= link_expires_at:
            return Rejection.LINK_EXPIRED
        if self.is_blocked:
            return Rejection.CUSTOMER_BLOCKED
        self.trigger_event(CustomerAuthorized, guid=guid, method=method)
        self._activate_if_new(ActivationCause.AUTHORIZATION)
        due = [message for message in self.messages.values() if message.is_due(now)]
        chosen = {message.message_id for message in sorted(
            due, key=lambda message: message.shown)[:limits.max_shown_per_login]}
        return [self._show(message) for message in due if message.message_id in chosen]

    def _show(self, message: QueuedMessage) -> ShownMessage:
        shows_left = message.shows_left - 1
        self.trigger_event(MessageShown, message_id=message.message_id, shows_left=shows_left)
        return ShownMessage(message.message_id, message.text, shows_left)

    def _activate_if_new(self, cause: ActivationCause) -> None:
        if self.status is CustomerStatus.NEW:
            self.activate(cause)

    def _require_unblocked(self) -> None:
        if self.is_blocked:
            raise RuleViolationError(f"customer {self.uniq_id} is blocked")

    def when(self, event: Any) -> None:
        """Applies one of the customer's events to its state (events without effect: none)."""
        match event:
            case CustomerCreated():
                if self.status is CustomerStatus.ACTIVE:
                    self.activated_on = event.timestamp
            case PhoneChanged():
                self.phone = event.phone
            case EmailChanged():
                self.email = event.email
            case PointsAccrued():
                self.wallet.apply_accrued(event.guid, event.amount, event.event_date,
                                          event.available, event.available_from,
                                          event.expires_at)
            case PointsActivated():
                self.wallet.apply_activated(event.lot_guid)
            case PointsExpired():
                self.wallet.apply_expired(event.lot_guid, event.amount)
            case DebtRepaid():
                self.wallet.apply_repaid(event.lot_guid, event.amount)
            case PointsReversed():
                self.wallet.apply_reversed(event.original_guid, event.amount, ReversalSplit(
                    event.from_remaining, event.from_expired, event.to_debt))
            case PointsSpent():
                self.wallet.apply_spent(event.guid, event.amount, shares_of(event.allocations))
            case SpendCancelled():
                self.wallet.apply_cancelled(event.guid, event.original_guid,
                                            shares_of(event.allocations), event.credited,
                                            event.timestamp)
            case MessageQueued():
                for message_id, message in list(self.messages.items()):  # never shown again
                    if message.show_till is not None and message.show_till < event.timestamp:
                        del self.messages[message_id]
                self.messages[event.message_id] = QueuedMessage(
                    event.message_id, event.text or "", event.show_count, event.show_till,
                    event.show_count)  # no text: erased (and the erasure follows)
            case MessageShown():
                if event.shows_left <= 0:
                    self.messages.pop(event.message_id, None)  # shown for the last time
                elif event.message_id in self.messages:
                    self.messages[event.message_id].shows_left = event.shows_left
            case LotsForgotten():
                self.wallet.apply_forgotten(event.lot_guids, event.spend_guids)
            case CustomerActivated():
                self.status = CustomerStatus.ACTIVE
                self.activated_on = event.timestamp
                self.blocked_on = None
            case LinksRevoked():
                self.link_version = event.link_version
            case CustomerErased():
                self.phone = self.email = None
                self.messages.clear()
                self.link_version = event.link_version
                self.erased_on = event.timestamp
            case CustomerBlocked():
                self.status = CustomerStatus.BLOCKED
                self.blocked_on = event.timestamp
        if isinstance(event, POINTS_CHANGED):  # every change of points says where they stand
            self.wallet.balances = Balances(event.active, event.pending, event.debt)


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


def shares_of(allocations: list[Any]) -> list[tuple[str, Decimal]]:
    return [(allocation["lot_guid"], allocation["amount"]) for allocation in allocations]
