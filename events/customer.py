"""The events of a customer: the public contract published on `loyalty.events`.

Every attribute here is part of the contract of docs/events.md and of the JSON Schema of its
type (`events/schemas/`). Amounts are exact decimals, date-times carry their offset.
"""

from datetime import datetime
from decimal import Decimal

from events.base import Created, Event


class CustomerCreated(Created):
    """A customer with this uniqId now exists, `New` or `Active`."""

    programme: str
    uniq_id: str
    status: str
    guid: str
    """The item that created the customer."""


class PhoneChanged(Event):
    """The customer's phone (E.164) replaced the previous one."""

    phone: str
    previous: str | None


class EmailChanged(Event):
    """The customer's e-mail address replaced the previous one."""

    email: str
    previous: str | None


class PointsAccrued(Event):
    """Points were added to the customer's balance by one item, with the event that earned
    them; `balance` is the balance after the accrual."""

    guid: str
    command_id: str
    amount: Decimal
    balance: Decimal
    event_id: str
    event_date: datetime
    event_type: str
    info: str | None
    operation_type: str | None
    operation_amount: Decimal | None
    merchant_name: str | None
    bank_product: str | None
    mcc: str | None


class MessageQueued(Event):
    """An information message waits in the customer's bonus window."""

    message_id: str
    guid: str
    text: str
    show_count: int
    show_till: datetime | None


class MessageShown(Event):
    """A message was shown at a login; `shows_left` shows remain."""

    message_id: str
    shows_left: int


class CustomerActivated(Event):
    """The customer became `Active`; `cause` is `accrual`, `authorization` or
    `activateCustomers`."""

    cause: str


class CustomerBlocked(Event):
    """The customer became `Blocked`."""

    reason: str | None


class CustomerAuthorized(Event):
    """The customer logged in (`method`: `link` or `self`)."""

    guid: str
    method: str | None


PUBLIC = (
    CustomerCreated,
    PhoneChanged,
    EmailChanged,
    PointsAccrued,
    MessageQueued,
    MessageShown,
    CustomerActivated,
    CustomerBlocked,
    CustomerAuthorized,
)
"""The customer's events, in the order docs/events.md lists them."""
