"""The customer aggregate: it decides every rule about one customer, one method per command;
each method checks, then records events, and `when` applies them.

Nothing here performs I/O: a use case loads the customer, calls one of these methods and hands
every aggregate with pending events to one atomic save. The events are those of
`events.customer`; the points' part of an operation is the wallet's (`services.domain.points`).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate

from events.customer import (
    CustomerActivated,
    CustomerAuthorized,
    CustomerBlocked,
    CustomerCreated,
    CustomerErased,
    EmailChanged,
    LinksRevoked,
    MessageQueued,
    MessageShown,
    PhoneChanged,
)
from services.domain import ids
from services.domain.answers import Rejection, ShownMessage
from services.domain.commands import (
    DEFAULT_LIMITS,
    Accrual,
    AddBonus,
    Cancel,
    Limits,
    Message,
    PointsPolicy,
    Reversal,
    Spend,
)
from services.domain.points import WALLET_EVENTS, Wallet


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
    def register(cls, item: AddBonus) -> "Customer":
        """Creates the customer of the item's uniqId with the item's phone and e-mail (their
        indexes are the use case's business): `Active` by addBonusExtQuick, `New` otherwise."""
        status = CustomerStatus.ACTIVE if item.quick else CustomerStatus.NEW
        return cls._create(CustomerCreated, id=ids.customer_id(item.programme, item.uniq_id),
                           programme=item.programme, uniq_id=item.uniq_id, status=status.value,
                           guid=item.guid, phone=item.phone, email=item.email)

    @property
    def balance(self) -> Decimal:
        """The active points: those that can be spent (docs/points.md)."""
        return self.wallet.balances.active

    @property
    def is_blocked(self) -> bool:
        """Whether the customer is `Blocked` (only activateCustomers unblocks)."""
        return self.status is CustomerStatus.BLOCKED

    def has_email(self, email: str) -> bool:
        """Whether the customer's address is `email`, compared case-insensitively."""
        return self.email is not None and self.email.lower() == email.lower()

    def add_bonus(self, item: AddBonus, phone_holder: str | None, now: datetime,
                  policy: PointsPolicy, limits: Limits) -> Rejection | None:
        """Rule 3, then 5 and 6 of docs/rules.md, all or nothing: refused to a blocked customer,
        when the item's phone is another customer's (`phone_holder`: the customer id its index
        names), or when the customer holds as many open lots, or waiting messages, as it may.
        Else the item's phone and e-mail replace the customer's (their indexes are the use
        case's business), its points are accrued (a `New` customer becomes `Active`) and its
        message is queued; addBonusExtQuick queues none."""
        accrual = item.accrual if item.accrual is not None and item.accrual.amount > 0 else None
        message = None if item.quick else item.message
        refused = self._refuses_bonus(phone_holder, accrual, message, limits)
        if refused is not None:
            return refused
        self._change_contacts(item.phone, item.email)
        if accrual is not None:
            self.wallet.accrue(self.trigger_event, item.guid, item.command_id, accrual, now,
                               policy, limits)
            self._activate_if_new(ActivationCause.ACCRUAL)
        if message is not None:
            self._queue_message(ids.message_id(self.programme, item.guid), item.guid, message)
        return None

    def settle(self, now: datetime) -> None:
        """Records what is due at `now`: pending lots become active (and repay debt first),
        lots past their expiry lose their remaining points."""
        self.wallet.settle(self.trigger_event, now)

    def reverse(self, guid: str, reversal: Reversal, now: datetime) -> Rejection | None:
        """Takes back all or part of an accrual (`Wallet.reverse`), also of a blocked
        customer."""
        return self.wallet.reverse(self.trigger_event, guid, reversal, now)

    def spend(self, guid: str, spend: Spend, now: datetime,
              limits: Limits = DEFAULT_LIMITS) -> Rejection | None:
        """Spends active points (`Wallet.spend`); refused to a blocked customer."""
        if self.is_blocked:
            return Rejection.CUSTOMER_BLOCKED
        return self.wallet.spend(self.trigger_event, guid, spend, now, limits)

    def cancel_spend(self, guid: str, cancel: Cancel, now: datetime) -> Rejection | None:
        """Gives back all or part of a spend (`Wallet.cancel`), also to a blocked customer."""
        return self.wallet.cancel(self.trigger_event, guid, cancel, now)

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

    def _refuses_bonus(self, phone_holder: str | None, accrual: Accrual | None,
                       message: Message | None, limits: Limits) -> Rejection | None:
        if self.is_blocked:
            return Rejection.CUSTOMER_BLOCKED
        if phone_holder is not None and phone_holder != str(self.id):
            return Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER
        if accrual is not None and len(self.wallet.lots) >= limits.max_open_lots:
            return Rejection.TOO_MANY_LOTS
        if message is not None and len(self.messages) >= limits.max_queued_messages:
            return Rejection.MESSAGE_QUEUE_FULL
        return None

    def _change_contacts(self, phone: str | None, email: str | None) -> None:
        """A new phone replaces the customer's; so does a new address, unless it is the same
        one in another case."""
        if phone is not None and phone != self.phone:
            self.trigger_event(PhoneChanged, phone=phone, previous=self.phone)
        if email is not None and not self.has_email(email):
            self.trigger_event(EmailChanged, email=email, previous=self.email)

    def _queue_message(self, message_id: str, guid: str, message: Message) -> None:
        if message_id not in self.messages:
            self.trigger_event(MessageQueued, message_id=message_id, guid=guid,
                               text=message.text, show_count=message.show_count,
                               show_till=message.show_till)

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
            case _ if isinstance(event, WALLET_EVENTS):
                self.wallet.apply(event)

