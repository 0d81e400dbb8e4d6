"""The commands of stage 2: one item of an organiser's command, as the domain reads it.

Stage 1 checked the format and normalised every value (phones in E.164, exact decimals,
date-times with their offset); the contract layer turns a wire item into one of these.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Accrual:
    """The points of one item and the event that earned them (amount > 0)."""

    amount: Decimal
    event_id: str
    event_date: datetime
    event_type: str
    info: str | None = None
    operation_type: str | None = None
    operation_amount: Decimal | None = None
    merchant_name: str | None = None
    bank_product: str | None = None
    mcc: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """An information message for the customer's bonus window."""

    text: str
    show_count: int = 1
    show_till: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """What every item carries: whose it is, which command brought it, and its identity."""

    programme: str
    guid: str
    uniq_id: str
    command_id: str
    type_of_command: str
    """The organiser's command name, echoed in the answer."""
    fingerprint: str
    """A digest of the item's content: equal for a re-sent item, different for a reused guid."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AddBonus(Item):
    """Find or create the customer, update the contacts, accrue, queue a message."""

    quick: bool = False
    """addBonusExtQuick: a customer it creates is `Active` at once, and it queues no message."""
    phone: str | None = None
    email: str | None = None
    accrual: Accrual | None = None
    message: Message | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockCustomer(Item):
    """Block a `New` or `Active` customer."""

    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivateCustomer(Item):
    """Make a `Blocked` or `New` customer `Active`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizeCustomer(Item):
    """A login: activate a `New` customer, show the messages that are due."""

    method: str | None = None


Command = AddBonus | BlockCustomer | ActivateCustomer | AuthorizeCustomer
"""Every command stage 2 applies."""
