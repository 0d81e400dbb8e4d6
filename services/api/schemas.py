"""Request and response bodies of the read API: camelCase JSON, decimals as strings."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from projections.bonus_operations import OperationRow
from projections.customers import CustomerRow
from projections.item_outcomes import OutcomeRow
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


class Customer(Body):
    """A customer of the caller's programme."""

    uniq_id: str
    status: Literal["New", "Active", "Blocked"]
    phone: str | None
    email: str | None
    balance: str = Field(examples=["200.00"])
    created_at: datetime
    activated_at: datetime | None
    blocked_at: datetime | None
    messages: list[Message]

    @classmethod
    def of(cls, row: CustomerRow, messages: list[MessageRow]) -> "Customer":
        return cls(
            uniq_id=row.uniq_id, status=row.status,
            phone=row.phone, email=row.email, balance=points(row.balance),
            created_at=row.created_at, activated_at=row.activated_at,
            blocked_at=row.blocked_at, messages=[Message.of(m) for m in messages],
        )

    @classmethod
    def of_aggregate(cls, customer: Any) -> "Customer":
        """The customer as its aggregate holds it (at some version of its history)."""
        return cls(
            uniq_id=customer.uniq_id, status=customer.status.value, phone=customer.phone,
            email=customer.email, balance=points(customer.balance),
            created_at=customer.created_on, activated_at=customer.activated_on,
            blocked_at=customer.blocked_on,
            messages=[Message(message_id=m.message_id, text=m.text, shows_left=m.shows_left,
                              show_till=m.show_till) for m in customer.messages.values()],
        )


class OperationsQuery(Body):
    """getBonusOperationExt: every filter optional; `from` inclusive, `to` exclusive."""

    uniq_id: str | None = Field(None, min_length=1, max_length=100)
    operation_type: Literal["accrual"] | None = None
    since: AwareDatetime | None = Field(None, alias="from")
    until: AwareDatetime | None = Field(None, alias="to")
    time_field: Literal["processedAt", "eventDate"] = "processedAt"
    guid: str | None = Field(None, max_length=100)
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, max_length=500,
                               description="nextCursor of the previous page, opaque")


class Operation(Body):
    """One bonus operation: the accrual and every field of the event that earned it."""

    id: int = Field(description="Stable, increasing with processing time.")
    type: Literal["accrual"]
    uniq_id: str
    guid: str
    command_id: str
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
        return cls(
            id=row.id, type="accrual", uniq_id=row.uniq_id, guid=row.guid,
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
