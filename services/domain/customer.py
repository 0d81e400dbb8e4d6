"""The customer aggregate: its methods check, then record events; `when` applies them.

Nothing here performs I/O: the use cases load aggregates, call these methods and hand every
aggregate with pending events to one atomic save. The events are those of `events.customer`.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate

from events.customer import (
    CustomerActivated,
    CustomerAuthorized,
    CustomerBlocked,
    CustomerCreated,
    EmailChanged,
    MessageQueued,
    MessageShown,
    PhoneChanged,
    PointsAccrued,
)
from services.domain import ids
from services.domain.answers import ShownMessage
from services.domain.commands import Accrual, Message
from services.domain.errors import RuleViolationError


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

    def is_due(self, now: datetime) -> bool:
        """Whether the message is shown at a login at `now`."""
        return self.shows_left > 0 and (self.show_till is None or now <= self.show_till)


class Customer(Aggregate):
    """A customer of one programme: status, phone, e-mail, balance and queued messages."""

    def __init__(self, programme: str, uniq_id: str, status: str) -> None:
        self.programme = programme
        self.uniq_id = uniq_id
        self.status = CustomerStatus(status)
        self.phone: str | None = None
        self.email: str | None = None
        self.balance = Decimal(0)
        self.messages: dict[str, QueuedMessage] = {}
        self.activated_on: datetime | None = None
        self.blocked_on: datetime | None = None

    @classmethod
    def register(cls, programme: str, uniq_id: str, status: CustomerStatus,
                 guid: str) -> "Customer":
        """Creates the customer with this uniqId, `New` or `Active`."""
        return cls._create(CustomerCreated, id=ids.customer_id(programme, uniq_id),
                           programme=programme, uniq_id=uniq_id, status=status.value, guid=guid)

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

    def accrue(self, guid: str, command_id: str, accrual: Accrual) -> None:
        """Adds the points of one item; a `New` customer becomes `Active` (source 3.3)."""
        self._require_unblocked()
        if accrual.amount <= 0:
            return
        self.trigger_event(
            PointsAccrued, guid=guid, command_id=command_id, amount=accrual.amount,
            balance=self.balance + accrual.amount, event_id=accrual.event_id,
            event_date=accrual.event_date, event_type=accrual.event_type, info=accrual.info,
            operation_type=accrual.operation_type, operation_amount=accrual.operation_amount,
            merchant_name=accrual.merchant_name, bank_product=accrual.bank_product,
            mcc=accrual.mcc,
        )
        self._activate_if_new(ActivationCause.ACCRUAL)

    def queue_message(self, message_id: str, guid: str, message: Message) -> None:
        """Queues a message for the bonus window, shown `show_count` times."""
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

    def authorize(self, guid: str, method: str | None, now: datetime) -> list[ShownMessage]:
        """Records a login, activates a `New` customer and shows every message due at `now`."""
        self._require_unblocked()
        self.trigger_event(CustomerAuthorized, guid=guid, method=method)
        self._activate_if_new(ActivationCause.AUTHORIZATION)
        due = [message for message in self.messages.values() if message.is_due(now)]
        return [self._show(message) for message in due]

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

    @singledispatchmethod
    def when(self, event: Any) -> None:
        """Applies one of the customer's events to its state (events without effect: none)."""

    @when.register
    def _(self, event: CustomerCreated) -> None:
        if self.status is CustomerStatus.ACTIVE:
            self.activated_on = event.timestamp

    @when.register
    def _(self, event: PhoneChanged) -> None:
        self.phone = event.phone

    @when.register
    def _(self, event: EmailChanged) -> None:
        self.email = event.email

    @when.register
    def _(self, event: PointsAccrued) -> None:
        self.balance = event.balance

    @when.register
    def _(self, event: MessageQueued) -> None:
        self.messages[event.message_id] = QueuedMessage(
            event.message_id, event.text, event.show_count, event.show_till)

    @when.register
    def _(self, event: MessageShown) -> None:
        self.messages[event.message_id].shows_left = event.shows_left

    @when.register
    def _(self, event: CustomerActivated) -> None:
        self.status = CustomerStatus.ACTIVE
        self.activated_on = event.timestamp
        self.blocked_on = None

    @when.register
    def _(self, event: CustomerBlocked) -> None:
        self.status = CustomerStatus.BLOCKED
        self.blocked_on = event.timestamp
