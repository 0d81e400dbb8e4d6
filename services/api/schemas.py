"""Request and response bodies of the read API: camelCase JSON, decimals as strings."""

from datetime import UTC, datetime
from datetime import date as date_
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from projections.bonus_operations import OperationRow
from projections.customers import CustomerRow
from projections.item_outcomes import OutcomeRow
from projections.lots import Expiry
from projections.messages import MessageRow

CENTS = Decimal("0.01")


class Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def points(value: Decimal) -> str:
    """A points amount as organisers send it: two fraction digits."""
    return str(value.quantize(CENTS))


def aware_datetime(value: Any) -> Any:
    """ISO 8601 as organisers send it (`Z`, `+03`, `+03:00`); the offset is obligatory."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 date-time") from None
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError("must have a UTC offset, e.g. +03:00 or Z")
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of the range of date-times") from None
    return value


AwareDatetime = Annotated[
    datetime, BeforeValidator(aware_datetime),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class Message(Body):
    message_id: str
    text: str
    shows_left: int
    show_till: datetime | None

    @classmethod
    def of(cls, row: MessageRow) -> "Message":
        return cls(message_id=row.message_id, text=row.text, shows_left=row.shows_left,
                   show_till=row.show_till)


class ExpiryEntry(Body):
    """Remaining points that expire on one date (the date as the accrual named it)."""

    date: date_
    amount: str = Field(examples=["150.00"])


class Customer(Body):
    """A customer of the caller's programme. `balance` is the active (spendable) points;
    `pending` are not available yet; `debt` is owed after a reversal of spent points."""

    uniq_id: str
    status: Literal["New", "Active", "Blocked"]
    phone: str | None
    email: str | None
    balance: str = Field(examples=["200.00"])
    pending: str = Field(examples=["0.00"])
    debt: str = Field(examples=["0.00"])
    expiries: list[ExpiryEntry]
    created_at: datetime
    activated_at: datetime | None
    blocked_at: datetime | None
    messages: list[Message]

    @classmethod
    def of(cls, row: CustomerRow, messages: list[MessageRow],
           expiries: list[Expiry]) -> "Customer":
        return cls(
            uniq_id=row.uniq_id, status=row.status,
            phone=row.phone, email=row.email, balance=points(row.balance),
            pending=points(row.pending), debt=points(row.debt),
            expiries=[ExpiryEntry(date=e.date, amount=points(e.amount)) for e in expiries],
            created_at=row.created_at, activated_at=row.activated_at,
            blocked_at=row.blocked_at, messages=[Message.of(m) for m in messages],
        )

    @classmethod
    def of_aggregate(cls, customer: Any) -> "Customer":
        """The customer as its aggregate holds it (at some version of its history)."""
        wallet = customer.wallet
        schedule: dict[date_, Decimal] = {}
        for lot in wallet.lots.values():
            if lot.expires_at is not None and lot.remaining > 0 and not lot.lapsed:
                day = lot.expires_at.date()
                schedule[day] = schedule.get(day, Decimal(0)) + lot.remaining
        return cls(
            uniq_id=customer.uniq_id, status=customer.status.value, phone=customer.phone,
            email=customer.email, balance=points(wallet.balances.active),
            pending=points(wallet.balances.pending), debt=points(wallet.balances.debt),
            expiries=[ExpiryEntry(date=day, amount=points(amount))
                      for day, amount in sorted(schedule.items())],
            created_at=customer.created_on, activated_at=customer.activated_on,
            blocked_at=customer.blocked_on,
            messages=[Message(message_id=m.message_id, text=m.text, shows_left=m.shows_left,
                              show_till=m.show_till) for m in customer.messages.values()],
        )


OperationKind = Literal["accrual", "reversal", "spend", "spendCancel", "expiry", "activation"]


class OperationsQuery(Body):
    """getBonusOperationExt: every filter optional; `from` inclusive, `to` exclusive.
    `operationKind` (or `operationType`, its name in the original API) selects one kind of
    bonus operation."""

    uniq_id: str | None = Field(None, min_length=1, max_length=100)
    operation_type: OperationKind | None = None
    operation_kind: OperationKind | None = None
    since: AwareDatetime | None = Field(None, alias="from")
    until: AwareDatetime | None = Field(None, alias="to")
    time_field: Literal["processedAt", "eventDate"] = "processedAt"
    guid: str | None = Field(None, max_length=100)
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, max_length=500,
                               description="nextCursor of the previous page, opaque")


class Operation(Body):
    """One bonus operation: an accrual with every field of the event that earned it, a
    reversal, a spend, a cancelled spend, an expiry or an activation of pending points.
    `amount` is the operation's own (positive); `relatedGuid` names the accrual a reversal
    took back, the spend a cancel gave back, or the lot that expired or became available."""

    id: int = Field(description="Stable, increasing with processing time.")
    type: OperationKind = Field(description="The same as operationKind.")
    operation_kind: OperationKind
    related_guid: str | None
    uniq_id: str
    guid: str
    command_id: str | None
    amount: str
    processed_at: datetime
    event_id: str | None
    event_date: datetime | None
    event_type: str | None
    info: str | None
    operation_type: str | None = Field(description="The customer's operation, e.g. purchase.")
    operation_amount: str | None
    merchant_name: str | None
    bank_product: str | None
    mcc: str | None

    @classmethod
    def of(cls, row: OperationRow) -> "Operation":
        kind: Any = row.kind
        return cls(
            id=row.id, type=kind, operation_kind=kind, related_guid=row.related_guid,
            uniq_id=row.uniq_id, guid=row.guid,
            command_id=row.command_id, amount=points(row.amount),
            processed_at=row.processed_at, event_id=row.event_id, event_date=row.event_date,
            event_type=row.event_type, info=row.info, operation_type=row.operation_type,
            operation_amount=None if row.operation_amount is None else str(row.operation_amount),
            merchant_name=row.merchant_name, bank_product=row.bank_product, mcc=row.mcc,
        )


class OperationsPage(Body):
    """A page of operations; `count` and `sum` cover the whole filter, not just the page."""

    operations: list[Operation]
    count: int
    sum: str = Field(examples=["123.00"])
    next_cursor: str | None


class ItemError(Body):
    code: str
    message: str | None
    field: str | None


class Item(Body):
    """An item of a command: pending after stage 1, then Success or Error after stage 2."""

    guid: str
    status: Literal["pending", "Success", "Error"]
    login: str | None
    error: ItemError | None
    command_id: str | None
    processed_at: datetime | None
    reuses: int = Field(description="Later items rejected for reusing this guid.")

    @classmethod
    def of(cls, row: OutcomeRow) -> "Item":
        error = None if row.error_code is None else ItemError(
            code=row.error_code, message=row.error_message, field=row.error_field)
        return cls(guid=row.guid, status=row.status,
                   login=row.login, error=error, command_id=row.command_id,
                   processed_at=row.processed_at, reuses=row.reuses)
