"""The events of a customer: the public contract published on `loyalty.events`.

Every attribute here is part of the contract of docs/events.md and of the JSON Schema of its
type (`events/schemas/`). Amounts are exact decimals, date-times carry their offset.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

from events.base import Created, Event


class Allocation(TypedDict):
    """Points of one lot (the accrual with guid `lot_guid`) that an operation moved."""

    lot_guid: str
    amount: Decimal


class Balances(Event):
    """What every event that changes points carries: the customer's points after it.

    `active` can be spent, `pending` cannot yet (before the lot's `available_from`), `debt` is
    owed after a reversal took back points that had been spent; it is repaid from later points
    first, and while there is debt nothing can be spent.
    """

    active: Decimal
    pending: Decimal
    debt: Decimal


class CustomerCreated(Created):
    """A customer with this uniqId now exists, `New` or `Active`, with the phone and e-mail
    address the creating item gave (None: not given); a later change of either is a
    `PhoneChanged` or an `EmailChanged`.

    Version 1 had no contacts: the item's phone and e-mail followed as `PhoneChanged` and
    `EmailChanged`; `upcast_v1_v2` reads it so (no contacts yet)."""

    class_version = 2
    personal = ("phone", "email")

    programme: str
    uniq_id: str
    status: str
    guid: str
    """The item that created the customer."""
    phone: str | None
    email: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state.update(phone=None, email=None)


class PhoneChanged(Event):
    """The customer's phone (E.164) replaced the previous one (None once erased)."""

    personal = ("phone", "previous")

    phone: str | None
    previous: str | None


class EmailChanged(Event):
    """The customer's e-mail address replaced the previous one."""

    personal = ("email", "previous")

    email: str | None
    previous: str | None


class PointsAccrued(Balances):
    """Points were added by one item, with the event that earned them: a lot of `amount`
    points, pending until `available_from` (None: at once), expiring at `expires_at` (None:
    never). `balance` is the active balance after the accrual (as `active`).

    Version 1 had no lots: its points were active at once, never expired, and `balance` was the
    whole balance; `upcast_v1_v2` reads it so."""

    class_version = 2

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
    available: bool
    """Whether the lot's points were active at once (else pending until `available_from`)."""
    available_from: datetime | None
    expires_at: datetime | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state.update(available=True, available_from=None, expires_at=None,
                     active=state["balance"], pending=Decimal(0), debt=Decimal(0))


class PointsActivated(Balances):
    """A pending lot's points became active at its `available_from`."""

    lot_guid: str
    amount: Decimal


class PointsReversed(Balances):
    """An accrual was reversed (a refund), in whole or in part: `amount` points, taken from the
    lot's remaining points first (`from_remaining`), then from its expired part (`from_expired`:
    nothing more to take, but they count as reversed, not expired), then from its spent part,
    which became debt (`to_debt`)."""

    guid: str
    original_guid: str
    amount: Decimal
    from_remaining: Decimal
    from_expired: Decimal
    to_debt: Decimal
    event_id: str
    event_date: datetime
    reason: str | None


class PointsSpent(Balances):
    """Active points were spent, from the lots that expire soonest first."""

    guid: str
    amount: Decimal
    allocations: list[Allocation]
    event_id: str
    event_date: datetime
    merchant_name: str | None
    info: str | None


class SpendCancelled(Balances):
    """A spend was given back, in whole or in part: its points went back to the lots they came
    from (`allocations`, each keeping its own expiry). Points of a lot whose spent part had been
    reversed into debt clear that debt instead (`debt_cleared`), and what the debt no longer
    holds, because later points repaid it meanwhile, comes back as a lot of its own, named by
    this event's `guid`, active and without expiry (`credited`)."""

    guid: str
    original_guid: str
    amount: Decimal
    allocations: list[Allocation]
    debt_cleared: Decimal
    credited: Decimal


class PointsExpired(Balances):
    """A lot's remaining points expired at its `expires_at`."""

    lot_guid: str
    amount: Decimal


class DebtRepaid(Balances):
    """Points of a lot that became active repaid debt first."""

    lot_guid: str
    amount: Decimal


class MessageQueued(Event):
    """An information message waits in the customer's bonus window."""

    personal = ("text",)

    message_id: str
    guid: str
    text: str | None
    """None once the customer was erased."""
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


class LinksRevoked(Event):
    """Every login link issued to the customer so far stopped working; links issued from now
    on carry `link_version`."""

    guid: str
    link_version: int


class CustomerErased(Event):
    """The customer's personal data was erased on request (`eraseCustomer`): its phone,
    e-mail and messages are gone, the data key of everything personal it ever stored is
    destroyed, and every login link stops working (`link_version`). Its points, operations and
    status stay, held by the pseudonymous customer (programme and uniqId)."""

    guid: str
    link_version: int


class LotsForgotten(Event):
    """Bookkeeping, not published: the customer's oldest closed lots (all their points spent,
    expired or reversed) and spends beyond the programme's bounds are no longer kept; such an
    accrual can no longer be reversed, such a spend no longer cancelled."""

    lot_guids: list[str]
    spend_guids: list[str]


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
    LinksRevoked,
    PointsActivated,
    PointsReversed,
    PointsSpent,
    SpendCancelled,
    PointsExpired,
    DebtRepaid,
    CustomerErased,
)
"""The customer's events, in the order docs/events.md lists them."""

POINTS_CHANGED = (PointsAccrued, PointsActivated, PointsReversed, PointsSpent, SpendCancelled,
                  PointsExpired, DebtRepaid)
"""The events after which the customer's points are as their `active`, `pending`, `debt` say."""
