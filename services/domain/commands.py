"""The commands of stage 2: one item of an organiser's command, as the domain reads it.

Stage 1 checked the format and normalised every value (phones in E.164, exact decimals,
date-times with their offset); the contract layer turns a wire item into one of these.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from services.domain.kinds import (
    EMAIL,
    EVENT_TYPE,
    GUID,
    INSTANT,
    LOGIN,
    METHOD,
    MONEY,
    OPERATION_TYPE,
    PHONE,
    POINTS,
    POSITIVE_POINTS,
    SHOW_COUNT,
    text,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Accrual:
    """The points of one item and the event that earned them (amount > 0)."""

    amount: Annotated[Decimal, POINTS, "Points to accrue; 0 or absent: no accrual"]
    event_id: Annotated[str, text(100), "The organiser's id of the event that earned them"]
    event_date: Annotated[datetime, INSTANT, "When that event happened"]
    event_type: Annotated[str, EVENT_TYPE, "Kind of event: operation, action, ..."]
    info: Annotated[str | None, text(1000), "Comment on the accrual"] = None
    operation_type: Annotated[str | None, OPERATION_TYPE,
                              "Kind of customer operation: purchase, payment, ..."] = None
    operation_amount: Annotated[Decimal | None, MONEY, "Money amount of the operation"] = None
    merchant_name: Annotated[str | None, text(200), "Where the operation took place"] = None
    bank_product: Annotated[str | None, text(200), "The bank product used"] = None
    mcc: Annotated[str | None, text(200), "Merchant category, e.g. Petrol station"] = None
    available_from: Annotated[datetime | None, INSTANT,
                              "The points are pending until then (default: the programme's)"
                              ] = None
    expires_at: Annotated[datetime | None, INSTANT,
                          "The points expire then (default: the programme's)"] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """An information message for the customer's bonus window."""

    text: Annotated[str, text(2000, wire="message"), "Message shown to the customer"]
    show_count: Annotated[int, SHOW_COUNT, "Times the message is shown (1-1000)"] = 1
    show_till: Annotated[datetime | None, INSTANT, "Not shown after this instant"] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reversal:
    """What a reverseBonus item takes back."""

    original_guid: Annotated[str, GUID, "The accrual taken back"]
    amount: Annotated[Decimal | None, POSITIVE_POINTS,
                      "Points taken back; absent: all that is left of the accrual"] = None
    event_id: Annotated[str, text(100), "The organiser's id of the event (a refund, say)"]
    event_date: Annotated[datetime, INSTANT, "When that event happened"]
    reason: Annotated[str | None, text(1000), "Why"] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Spend:
    """What a spendBonus item spends."""

    amount: Annotated[Decimal, POSITIVE_POINTS, "Active points spent"]
    event_id: Annotated[str, text(100), "The organiser's id of the purchase"]
    event_date: Annotated[datetime, INSTANT, "When it happened"]
    merchant_name: Annotated[str | None, text(200), "Where"] = None
    info: Annotated[str | None, text(1000), "Comment"] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel:
    """What a cancelSpend item gives back."""

    original_guid: Annotated[str, GUID, "The spend given back"]
    amount: Annotated[Decimal | None, POSITIVE_POINTS,
                      "Points given back; absent: all that is left of the spend"] = None


PAYLOADS = (Accrual, Message, Reversal, Spend, Cancel)
"""The parts a command carries as a whole (the organiser sends their fields in the item)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of each kind one customer may hold, so that no customer's data grows without
    bound (docs/decisions.md, "Bounds"). Defaults: `services.settings`."""

    max_queued_messages: int = 100
    """Messages that can still be shown; one more: MESSAGE_QUEUE_FULL."""
    max_shown_per_login: int = 20
    """Messages shown at one login, oldest first; the rest at the next logins."""
    max_open_lots: int = 5000
    """Lots with points left or pending; an accrual that opens one more: TOO_MANY_LOTS."""
    max_closed_lots: int = 5000
    """Closed lots kept for reversals; older ones are forgotten."""
    max_spends: int = 5000
    """Spends kept for cancels; older ones are forgotten."""
    max_allocations: int = 5000
    """Lots one spend may take points from; more: TOO_MANY_ALLOCATIONS."""


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """What every item carries: whose it is, which command brought it, and its identity."""

    programme: str
    guid: Annotated[str, GUID, "The item's identifier and idempotency key"]
    uniq_id: Annotated[str, LOGIN, "The organiser's identifier of the customer (the login)"]
    command_id: str
    type_of_command: str
    """The organiser's command name, echoed in the answer."""
    fingerprint: str
    """A digest of the item's content: equal for a re-sent item, different for a reused guid."""
    command_timestamp: datetime | None = None
    """When the command that brought the item was produced (its record's Kafka timestamp), kept
    with the item's outcome to time its way through; None when not known."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AddBonus(Item):
    """Find or create the customer, update the contacts, accrue, queue a message."""

    quick: bool = False
    """addBonusExtQuick: a customer it creates is `Active` at once, and it queues no message."""
    phone: Annotated[str | None, PHONE, "The customer's phone; stored in E.164"] = None
    email: Annotated[str | None, EMAIL, "The customer's e-mail address"] = None
    accrual: Accrual | None = None
    message: Message | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockCustomer(Item):
    """Block a `New` or `Active` customer."""

    reason: Annotated[str | None, text(1000), "Why the customer is blocked"] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivateCustomer(Item):
    """Make a `Blocked` or `New` customer `Active`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizeCustomer(Item):
    """A login: activate a `New` customer, show the messages that are due."""

    method: Annotated[str, METHOD, "How the customer logged in: link or self"]
    link_version: int | None = None
    """The version of the login link used; None when no link was (an organiser's item)."""
    link_expires_at: datetime | None = None
    """When the login link used expires; None when no link was."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokeLinks(Item):
    """Every login link issued to the customer so far stops working."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EraseCustomer(Item):
    """Erase the customer's personal data (phone, e-mail, messages); points and operations
    stay with the pseudonymous customer (docs/privacy.md)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReverseBonus(Item):
    """Take back all or part of an accrual, e.g. on a refund."""

    reversal: Reversal


@dataclass(frozen=True, slots=True, kw_only=True)
class SpendBonus(Item):
    """Spend active points."""

    spend: Spend


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelSpend(Item):
    """Give back all or part of a spend."""

    cancel: Cancel


@dataclass(frozen=True, slots=True)
class SettlePoints:
    """The service's own clock: activate and expire what is due at `at` (no answer)."""

    programme: str
    uniq_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PointsPolicy:
    """A programme's defaults for an accrual's lot that names no dates of its own."""

    pending_days: int = 0
    """Days after the event's date until the points can be spent (0: at once)."""
    validity_days: int | None = None
    """Days the points stay valid after they became available (None: for ever)."""


Command = (AddBonus | BlockCustomer | ActivateCustomer | AuthorizeCustomer | RevokeLinks
           | ReverseBonus | SpendBonus | CancelSpend | EraseCustomer)
"""Every organiser's command stage 2 answers."""
