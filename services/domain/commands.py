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
    available_from: datetime | None = None
    """The points are pending until then; None: the programme's default."""
    expires_at: datetime | None = None
    """The points expire then; None: the programme's default."""


@dataclass(frozen=True, slots=True)
class Message:
    """An information message for the customer's bonus window."""

    text: str
    show_count: int = 1
    show_till: datetime | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of each kind one customer may hold, so that no customer's data grows without
    bound (SPEC §10). Defaults: `services.settings`."""

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
    guid: str
    uniq_id: str
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


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokeLinks(Item):
    """Every login link issued to the customer so far stops working."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReverseBonus(Item):
    """Take back all (amount None) or part of an accrual, e.g. on a refund."""

    original_guid: str
    amount: Decimal | None = None
    event_id: str
    event_date: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SpendBonus(Item):
    """Spend active points."""

    amount: Decimal
    event_id: str
    event_date: datetime
    merchant_name: str | None = None
    info: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelSpend(Item):
    """Give back all (amount None) or part of a spend."""

    original_guid: str
    amount: Decimal | None = None


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
           | ReverseBonus | SpendBonus | CancelSpend)
"""Every organiser's command stage 2 answers."""
