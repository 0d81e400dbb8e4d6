"""The items of each command and the stage-1 check of one item.

An item's fields are checked in a fixed order and the first failure is reported: `guid`,
`uniqId`, then for AddBonus items `phone`, `email`, `amount`, the accrual fields (`info`,
`eventId`, `eventDate`, `eventType`, `operationType`, `operationAmount`, `merchantName`,
`bankProduct`, `mcc`, `availableFrom`, `expiresAt`; only when amount > 0) and the message
fields (`message`, `showCount`, `showTill`; only for addCustomerPointMessage); for reverseBonus
`originalGuid`, `amount`, `eventId`, `eventDate`, `reason`; for spendBonus `amount`, `eventId`,
`eventDate`, `merchantName`, `info`; for cancelSpend `originalGuid`, `amount`. A JSON null counts
as an absent field, and an empty `message` as no message.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails, PydanticCustomError

from services.contract.commands import (
    Accrual,
    Cancel,
    CommandType,
    Message,
    Reversal,
    Spend,
    WorkItem,
)
from services.contract.errors import ErrorCode
from services.contract.fields import (
    Amount,
    DateTime,
    Email,
    EventType,
    Guid,
    Login,
    Method,
    OperationAmount,
    OperationType,
    Phone,
    PositiveAmount,
    ShowCount,
    Text100,
    Text200,
    Text1000,
    Text2000,
)
from services.contract.results import ItemError, ItemStatus
from services.contract.rules import ValidationRules


@dataclass(frozen=True)
class Command:
    """What every item of one command shares."""

    id: str
    type: CommandType
    programme: str
    timestamp: datetime | None = None
    """The Kafka timestamp of the command's record (None: not read from Kafka)."""


class _Fields(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, strict=True, extra="ignore")


class Identity(_Fields):
    guid: Guid
    uniq_id: Login


class Contact(Identity):
    """The AddBonus fields checked for every item: who the customer is and the amount."""

    phone: Phone | None = None
    email: Email | None = None
    amount: Amount | None = None


class AccrualFields(_Fields):
    info: Text1000 | None = None
    event_id: Text100
    event_date: DateTime
    event_type: EventType
    operation_type: OperationType | None = None
    operation_amount: OperationAmount | None = None
    merchant_name: Text200 | None = None
    bank_product: Text200 | None = None
    mcc: Text200 | None = None
    available_from: DateTime | None = None
    expires_at: DateTime | None = None

    @field_validator("expires_at")
    @classmethod
    def _expires_after_available(cls, value: datetime | None,
                                 info: ValidationInfo) -> datetime | None:
        available_from = info.data.get("available_from")
        if value is not None and available_from is not None and value <= available_from:
            raise PydanticCustomError(ErrorCode.INVALID_FORMAT.value,
                                      "must be later than availableFrom")
        return value


class ReverseFields(Identity):
    original_guid: Guid
    amount: PositiveAmount | None = None
    event_id: Text100
    event_date: DateTime
    reason: Text1000 | None = None


class SpendFields(Identity):
    amount: PositiveAmount
    event_id: Text100
    event_date: DateTime
    merchant_name: Text200 | None = None
    info: Text1000 | None = None


class CancelFields(Identity):
    original_guid: Guid
    amount: PositiveAmount | None = None


class MessageFields(_Fields):
    message: Text2000 | None = None
    show_count: ShowCount = 1
    show_till: DateTime | None = None


class BlockFields(Identity):
    reason: Text1000 | None = None


class AuthorizeFields(Identity):
    method: Method


Fields = dict[str, Any]


def check_item(
    raw: object, command: Command, rules: ValidationRules
) -> tuple[ItemStatus, WorkItem | None]:
    """The stage-1 status of one item and, when it is valid, the work item for stage 2."""
    if not isinstance(raw, dict):
        failure = ItemError(code=ErrorCode.INVALID_FORMAT, message="an item must be a JSON object")
        return ItemStatus(login=None, guid=None, status="Error", error=failure), None
    fields = {name: value for name, value in raw.items() if value is not None}
    try:
        item = _WORK_ITEMS[command.type](fields, command, rules)
    except ValidationError as error:
        login, guid = _text(raw.get("uniqId")), _text(raw.get("guid"))
        return ItemStatus(login=login, guid=guid, status="Error", error=_item_error(error)), None
    return ItemStatus(login=item.uniq_id, guid=item.guid, status="Success"), item


def _add_bonus(fields: Fields, command: Command, rules: ValidationRules) -> WorkItem:
    contact = Contact.model_validate(fields, context=rules)
    accrual = _accrual(contact, fields, rules) if contact.amount else None
    message = None
    if command.type is CommandType.ADD_CUSTOMER_POINT_MESSAGE:
        message = _message(fields, rules)
    return WorkItem(
        **_identity(command, contact),
        phone=contact.phone,
        email=contact.email,
        accrual=accrual,
        message=message,
    )


def _accrual(contact: Contact, fields: Fields, rules: ValidationRules) -> Accrual:
    accrual = AccrualFields.model_validate(fields, context=rules)
    return Accrual(amount=contact.amount, **dict(accrual))


def _message(fields: Fields, rules: ValidationRules) -> Message | None:
    given = MessageFields.model_validate(fields, context=rules)
    if not given.message:
        return None
    return Message(text=given.message, show_count=given.show_count, show_till=given.show_till)


def _block(fields: Fields, command: Command, rules: ValidationRules) -> WorkItem:
    block = BlockFields.model_validate(fields, context=rules)
    return WorkItem(**_identity(command, block), reason=block.reason)


def _identified(fields: Fields, command: Command, rules: ValidationRules) -> WorkItem:
    identity = Identity.model_validate(fields, context=rules)
    return WorkItem(**_identity(command, identity))


def _authorize(fields: Fields, command: Command, rules: ValidationRules) -> WorkItem:
    authorize = AuthorizeFields.model_validate(fields, context=rules)
    return WorkItem(**_identity(command, authorize), method=authorize.method)


def _identity(command: Command, identity: Identity) -> Fields:
    return {
        "command_id": command.id,
        "type_of_command": command.type,
        "programme": command.programme,
        "command_timestamp": command.timestamp,
        "guid": identity.guid,
        "uniq_id": identity.uniq_id,
    }


def _reverse(fields: Fields, command: Command, rules: ValidationRules) -> WorkItem:
    reverse = ReverseFields.model_validate(fields, context=rules)
    reversal = Reversal(original_guid=reverse.original_guid, amount=reverse.amount,
                        event_id=reverse.event_id, event_date=reverse.event_date,
                        reason=reverse.reason)
    return WorkItem(**_identity(command, reverse), reversal=reversal)


def _spend(fields: Fields, command: Command, rules: ValidationRules) -> WorkItem:
    given = SpendFields.model_validate(fields, context=rules)
    spend = Spend(amount=given.amount, event_id=given.event_id, event_date=given.event_date,
                  merchant_name=given.merchant_name, info=given.info)
    return WorkItem(**_identity(command, given), spend=spend)


def _cancel(fields: Fields, command: Command, rules: ValidationRules) -> WorkItem:
    given = CancelFields.model_validate(fields, context=rules)
    cancel = Cancel(original_guid=given.original_guid, amount=given.amount)
    return WorkItem(**_identity(command, given), cancel=cancel)


_WORK_ITEMS: dict[CommandType, Callable[[Fields, Command, ValidationRules], WorkItem]] = {
    CommandType.ADD_CUSTOMER_POINT_MESSAGE: _add_bonus,
    CommandType.ADD_BONUS_EXT_QUICK: _add_bonus,
    CommandType.BLOCK_CUSTOMERS: _block,
    CommandType.ACTIVATE_CUSTOMERS: _identified,
    CommandType.AUTHORIZE_CUSTOMER: _authorize,
    CommandType.REVOKE_LINKS: _identified,
    CommandType.REVERSE_BONUS: _reverse,
    CommandType.SPEND_BONUS: _spend,
    CommandType.CANCEL_SPEND: _cancel,
}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _item_error(error: ValidationError) -> ItemError:
    first = error.errors(include_url=False)[0]
    field = str(first["loc"][0]) if first["loc"] else None
    code, reason = _code_and_reason(first)
    return ItemError(code=code, message=f"{field or 'the item'} {reason}", field=field)


def _code_and_reason(error: ErrorDetails) -> tuple[ErrorCode, str]:
    kind = error["type"]
    if kind in ErrorCode.__members__:
        return ErrorCode(kind), error["msg"]
    if kind == "missing":
        return ErrorCode.MISSING_FIELD, "is required"
    if kind == "string_type":
        return ErrorCode.INVALID_FORMAT, "must be a string"
    if kind == "string_too_short":
        return ErrorCode.INVALID_FORMAT, "must not be empty"
    if kind == "string_too_long":
        limit = error.get("ctx", {}).get("max_length")
        return ErrorCode.INVALID_FORMAT, f"must be at most {limit} characters long"
    return ErrorCode.INVALID_FORMAT, f"is not valid: {error['msg']}"
