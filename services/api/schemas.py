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


def example_of(model: type[BaseModel]) -> dict[str, Any]:
    """An example of the model's JSON: each field's first example."""
    return {field.alias or name: (field.examples or [None])[0]
            for name, field in model.model_fields.items()}


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
    """An information message queued for the customer."""

    message_id: str = Field(description="The message's id.",
                            examples=["63c9532b-938c-5ca9-9a38-2e2b3e3007b8"])
    text: str | None = Field(description="The message's text; null once the customer was "
                                         "erased.", examples=["Message for customer"])
    shows_left: int = Field(description="How many more times it will be shown.", examples=[2])
    show_till: datetime | None = Field(description="It is not shown after this instant; null: "
                                                   "no limit.",
                                       examples=["2030-01-01T00:00:00+00:00"])

    @classmethod
    def of(cls, row: MessageRow) -> "Message":
        return cls(message_id=row.message_id, text=row.text, shows_left=row.shows_left,
                   show_till=row.show_till)


class ExpiryEntry(Body):
    """Remaining points that expire on one date (the date as the accrual named it)."""

    date: date_ = Field(description="The day the points expire.", examples=["2027-01-01"])
    amount: str = Field(description="The points that expire that day.", examples=["150.00"])


class Customer(Body):
    """A customer of the caller's programme. `balance` is the active (spendable) points;
    `pending` are not available yet; `debt` is owed after a reversal of spent points."""

    uniq_id: str = Field(description="The organiser's identifier of the customer (the login).",
                         examples=["12345678"])
    status: Literal["New", "Active", "Blocked"] = Field(description="The customer's status.",
                                                        examples=["Active"])
    phone: str | None = Field(description="The phone, E.164; null: none.",
                              examples=["+79161234567"])
    email: str | None = Field(description="The e-mail address; null: none.",
                              examples=["ann@example.com"])
    balance: str = Field(description="Active (spendable) points.", examples=["200.00"])
    pending: str = Field(description="Points not available yet.", examples=["0.00"])
    debt: str = Field(description="Points owed after a reversal of points already spent.",
                      examples=["0.00"])
    expiries: list[ExpiryEntry] = Field(description="When remaining points expire, by day.",
                                        examples=[[{"date": "2027-01-01", "amount": "150.00"}]])
    created_at: datetime = Field(description="When the customer was created.",
                                 examples=["2026-03-02T09:15:00.120000+00:00"])
    activated_at: datetime | None = Field(description="The latest activation (the creation, "
                                                      "for a customer created Active); null: "
                                                      "never.",
                                          examples=["2026-03-02T09:15:00.120000+00:00"])
    blocked_at: datetime | None = Field(description="When the current block began; null: not "
                                                    "blocked.", examples=[None])
    erased_at: datetime | None = Field(None, description="When the customer's personal data "
                                       "was erased (eraseCustomer); null: never.",
                                       examples=[None])
    messages: list[Message] = Field(description="The customer's information messages.",
                                    examples=[[{"messageId": "63c9532b-938c-5ca9-9a38-"
                                                             "2e2b3e3007b8",
                                                "text": "Message for customer", "showsLeft": 2,
                                                "showTill": None}]])

    @classmethod
    def of(cls, row: CustomerRow, messages: list[MessageRow],
           expiries: list[Expiry]) -> "Customer":
        return cls(
            uniq_id=row.uniq_id, status=row.status,
            phone=row.phone, email=row.email, balance=points(row.balance),
            pending=points(row.pending), debt=points(row.debt),
            expiries=[ExpiryEntry(date=e.date, amount=points(e.amount)) for e in expiries],
            created_at=row.created_at, activated_at=row.activated_at,
            blocked_at=row.blocked_at, erased_at=row.erased_at,
            messages=[Message.of(m) for m in messages],
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
            blocked_at=customer.blocked_on, erased_at=getattr(customer, "erased_on", None),
            messages=[Message(message_id=m.message_id, text=m.text, shows_left=m.shows_left,
                              show_till=m.show_till) for m in customer.messages.values()],
        )


OperationKind = Literal["accrual", "reversal", "spend", "spendCancel", "expiry", "activation"]


class OperationsQuery(Body):
    """getBonusOperationExt: every filter optional; `from` inclusive, `to` exclusive.
    `operationKind` selects one kind of bonus operation; `operationType`, the name the original
    API gave that filter, is still read (deprecated: everywhere else `operationType` is the
    customer's operation, such as purchase)."""

    uniq_id: str | None = Field(None, min_length=1, max_length=100, examples=["12345678"],
                                description="Only this customer's operations.")
    operation_type: OperationKind | None = Field(
        None, json_schema_extra={"deprecated": True}, examples=["accrual"],
        description="Deprecated: the same filter as operationKind, under the original API's "
                    "name (read when operationKind is absent).")
    operation_kind: OperationKind | None = Field(
        None, examples=["accrual"], description="Only operations of this kind.")
    since: AwareDatetime | None = Field(None, alias="from", examples=["2026-03-01T00:00:00+03"],
                                        description="From this instant on (inclusive), by "
                                                    "timeField.")
    until: AwareDatetime | None = Field(None, alias="to", examples=["2026-04-01T00:00:00+03"],
                                        description="Before this instant (exclusive), by "
                                                    "timeField.")
    time_field: Literal["processedAt", "eventDate"] = Field(
        "processedAt", examples=["processedAt"],
        description="The time that from, to and the order use: when the operation was "
                    "processed, or the date of the organiser's event.")
    guid: str | None = Field(None, max_length=100, description="Only the operation of this "
                                                               "item guid.",
                             examples=["9803d32e-8fcd-4984-a736-9f02f726b3c0"])
    limit: int = Field(100, ge=1, le=1000, description="Operations per page.", examples=[100])
    cursor: str | None = Field(None, max_length=500, examples=[None],
                               description="nextCursor of the previous page, opaque.")

    @property
    def kind(self) -> OperationKind | None:
        """The kind of bonus operation asked for, under either name."""
        return self.operation_kind or self.operation_type


class Operation(Body):
    """One bonus operation: an accrual with every field of the event that earned it, a
    reversal, a spend, a cancelled spend, an expiry or an activation of pending points.
    `amount` is the operation's own (positive); `relatedGuid` names the accrual a reversal
    took back, the spend a cancel gave back, or the lot that expired or became available."""

    id: int = Field(description="Stable, increasing with processing time.", examples=[1017])
    type: OperationKind = Field(description="The same as operationKind (the original API's "
                                            "name).", examples=["accrual"])
    operation_kind: OperationKind = Field(description="The kind of bonus operation.",
                                          examples=["accrual"])
    related_guid: str | None = Field(
        description="The accrual a reversal took back, the spend a cancel gave back, or the "
                    "lot that expired or became available; null for accruals and spends.",
        examples=[None])
    uniq_id: str = Field(description="The customer's uniqId.", examples=["12345678"])
    guid: str = Field(description="The guid of the item that made the operation (for expiries "
                                  "and activations, a guid of the service's).",
                      examples=["9803d32e-8fcd-4984-a736-9f02f726b3c0"])
    command_id: str | None = Field(description="The commandId of the command the item came "
                                                "in; null when none.", examples=["c-1"])
    amount: str = Field(description="The operation's own points, positive.",
                        examples=["200.00"])
    processed_at: datetime = Field(description="When the operation was processed.",
                                   examples=["2026-03-02T09:15:00.120000+00:00"])
    event_id: str | None = Field(description="The organiser's id of the event that earned or "
                                             "spent the points.", examples=["123456"])
    event_date: datetime | None = Field(description="When that event happened.",
                                        examples=["2015-01-01T00:00:00+03:00"])
    event_type: str | None = Field(description="The kind of that event (accruals).",
                                   examples=["operation"])
    info: str | None = Field(description="The organiser's comment.",
                             examples=["Birthday bonus"])
    operation_type: str | None = Field(description="The customer's operation, e.g. purchase "
                                                   "(not the kind of bonus operation: that is "
                                                   "operationKind).", examples=["purchase"])
    operation_amount: str | None = Field(description="The money amount of the customer's "
                                                     "operation.", examples=["100.0000"])
    merchant_name: str | None = Field(description="Where the operation took place.",
                                      examples=["TZUM"])
    bank_product: str | None = Field(description="The bank product used.",
                                     examples=["Gold card"])
    mcc: str | None = Field(description="The merchant's category.",
                            examples=["Petrol station"])

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

    operations: list[Operation] = Field(description="This page's operations, in order.",
                                        examples=[[example_of(Operation)]])
    count: int = Field(description="Operations of the whole filter.", examples=[1])
    sum: str = Field(description="Their points, of the whole filter.", examples=["123.00"])
    next_cursor: str | None = Field(description="Pass it as cursor for the next page; null: "
                                                "the last page.", examples=[None])


class OutcomeError(Body):
    """The error an item's outcome holds (a stage-2 rejection)."""

    code: str = Field(description="The error code.", examples=["CUSTOMER_BLOCKED"])
    message: str | None = Field(description="What was wrong, for a person to read.",
                                examples=["The customer is blocked"])
    field: str | None = Field(description="The item's field at fault, or null.",
                              examples=["uniqId"])


class Item(Body):
    """An item of a command: pending after stage 1, then Success or Error after stage 2."""

    guid: str = Field(description="The item's guid.",
                      examples=["9803d32e-8fcd-4984-a736-9f02f726b3c0"])
    status: Literal["pending", "Success", "Error"] = Field(
        description="pending: accepted by stage 1, not processed yet; then the final outcome.",
        examples=["Success"])
    login: str | None = Field(description="The uniqId of the customer it was applied to; null "
                                          "while pending.", examples=["12345678"])
    error: OutcomeError | None = Field(description="Why it was refused; null otherwise.",
                                       examples=[None])
    command_id: str | None = Field(description="The commandId of the command it came in.",
                                   examples=["c-1"])
    processed_at: datetime | None = Field(description="When it was processed; null while "
                                                      "pending.",
                                          examples=["2026-03-02T09:15:00.120000+00:00"])
    reuses: int = Field(description="Later items rejected for reusing this guid.", examples=[0])

    @classmethod
    def of(cls, row: OutcomeRow) -> "Item":
        error = None if row.error_code is None else OutcomeError(
            code=row.error_code, message=row.error_message, field=row.error_field)
        return cls(guid=row.guid, status=row.status,
                   login=row.login, error=error, command_id=row.command_id,
                   processed_at=row.processed_at, reuses=row.reuses)
