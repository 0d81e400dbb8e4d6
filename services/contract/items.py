"""Stage 1 of one item: checked against a model made from its domain command's fields.

Every field of an item is declared once, in its domain command (`services.domain.commands`),
with its kind; `item_model` turns the fields an organiser sends into a pydantic model that
checks each kind (`services.contract.fields`) under the organiser's camelCase name, and
describes it (for the JSON Schemas). The fields of a part the command carries as a whole (an
accrual, a message, a reversal) are the item's own fields. A JSON null counts as an absent
field; the fields are checked in their declared order and the first failure is reported.

An AddBonus item has two rules of its own: its accrual fields are checked (and stored) only
when `amount` > 0, and its message fields only for addCustomerPointMessage; an empty `message`
is no message.
"""

import dataclasses
import functools
import typing
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails, PydanticCustomError

from services.contract import fields as checks
from services.contract.commands import WorkItem
from services.contract.declarations import Declaration
from services.contract.errors import ErrorCode
from services.contract.results import ItemError, ItemStatus
from services.contract.rules import ValidationRules
from services.domain import commands as domain
from services.domain.kinds import Kind

CHECKS: dict[str, Any] = {
    "guid": checks.Guid, "login": checks.Login, "phone": checks.Phone, "email": checks.Email,
    "points": checks.Amount, "positive_points": checks.PositiveAmount,
    "money": checks.OperationAmount, "instant": checks.DateTime,
    "event_type": checks.EventType, "operation_type": checks.OperationType,
    "show_count": checks.ShowCount, "method": checks.Method,
}
"""How the wire checks each kind of value (`text` is checked by its length)."""

@dataclasses.dataclass(frozen=True)
class CommandEnvelope:
    """What every item of one command shares."""

    id: str
    declaration: Declaration
    programme: str
    timestamp: datetime | None = None
    """The Kafka timestamp of the command's record (None: not read from Kafka)."""


@dataclasses.dataclass(frozen=True)
class Wired:
    """One field as the organiser sends it."""

    name: str
    """The domain's name of the field."""
    kind: Kind
    optional: bool
    description: str
    part: str | None
    """The part of the command that holds it (`accrual`, ...), None: the command itself."""

    @property
    def alias(self) -> str:
        return self.kind.wire or to_camel(self.name)


def _kind_and_text(annotation: Any) -> tuple[Kind | None, str]:
    kind, text = None, ""
    for extra in getattr(annotation, "__metadata__", ()):
        if isinstance(extra, Kind):
            kind = extra
        elif isinstance(extra, str):
            text = extra
    return kind, text


def _wired(cls: type, part: str | None, leaves_out: tuple[str, ...]) -> Iterator[Wired]:
    hints = typing.get_type_hints(cls, include_extras=True)
    for one in dataclasses.fields(cls):
        if one.name in leaves_out:
            continue
        kind, text = _kind_and_text(hints[one.name])
        payload = _payload_of(hints[one.name])
        if payload is not None:
            yield from _wired(payload, one.name, ())
        elif kind is not None:
            optional = one.default is not dataclasses.MISSING
            yield Wired(one.name, kind, optional, text, part)


def _payload_of(annotation: Any) -> type | None:
    """The payload class of a field typed `Accrual | None`, say (None: not a payload)."""
    for candidate in typing.get_args(annotation) or (annotation,):
        if candidate in domain.PAYLOADS:
            return typing.cast(type, candidate)
    return None


@functools.cache
def wired_fields(declaration: Declaration) -> tuple[Wired, ...]:
    """The fields an organiser sends in an item of this command type, in their order (read
    once per declaration: type hints are slow to evaluate)."""
    return tuple(_wired(declaration.command, None, declaration.leaves_out))


def _check(kind: Kind) -> Any:
    if kind.name == "text":
        return Annotated[str, StringConstraints(max_length=kind.max_length), checks.NoNul]
    return CHECKS[kind.name]


class ItemFields(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


def _expires_after_available(value: datetime | None, info: ValidationInfo) -> datetime | None:
    available_from = info.data.get("available_from")
    if value is not None and available_from is not None and value <= available_from:
        raise PydanticCustomError(ErrorCode.INVALID_FORMAT.value,
                                  "must be later than availableFrom")
    return value


@functools.cache
def item_model(fields: tuple[Wired, ...], name: str) -> type[ItemFields]:
    """A model that checks these fields (optional ones may be absent)."""
    definitions: dict[str, Any] = {}
    for one in fields:
        check = _check(one.kind)
        definitions[one.name] = (
            check | None if one.optional else check,
            Field(default=None if one.optional else ..., alias=one.alias,
                  description=one.description or None))
    validators = {}
    if "expires_at" in definitions and "available_from" in definitions:
        validators["expires_after_available"] = field_validator("expires_at")(
            _expires_after_available)
    model: type[ItemFields] = create_model(name, __base__=ItemFields,
                                           __validators__=validators, **definitions)
    return model


Fields = dict[str, Any]


def check_item(
    raw: object, command: CommandEnvelope, rules: ValidationRules
) -> tuple[ItemStatus, WorkItem | None]:
    """The stage-1 status of one item and, when it is valid, the work item for stage 2."""
    if not isinstance(raw, dict):
        failure = ItemError(code=ErrorCode.INVALID_FORMAT, message="an item must be a JSON object")
        return ItemStatus(login=None, guid=None, status="Error", error=failure), None
    given = {name: value for name, value in raw.items() if value is not None}
    try:
        item = work_item(given, command, rules)
    except ValidationError as error:
        login, guid = _text(raw.get("uniqId")), _text(raw.get("guid"))
        return ItemStatus(login=login, guid=guid, status="Error", error=_item_error(error)), None
    return ItemStatus(login=item.uniq_id, guid=item.guid, status="Success"), item


def work_item(given: Fields, command: CommandEnvelope, rules: ValidationRules) -> WorkItem:
    """The work item of one item's fields (raises ValidationError on the first bad one)."""
    declaration = command.declaration
    accrues = _accrues(given.get("amount")) if declaration.command is domain.AddBonus else None
    fields, checked = _fields_and_model(declaration, accrues)
    values = checked.model_validate(given, context=rules)
    own: Fields = {}
    parts: dict[str, Fields] = {}
    for one in fields:
        value = getattr(values, one.name)
        if one.part is None:
            own[one.name] = value
        else:
            parts.setdefault(one.part, {})[one.name] = value
    for part, part_values in parts.items():
        own[part] = _part(declaration, part, part_values)
    return _envelope(command, own)


@functools.cache
def _fields_and_model(declaration: Declaration, accrues: bool | None
                      ) -> tuple[tuple[Wired, ...], type[ItemFields]]:
    """The fields of an item of this declaration and the model that checks them (`accrues`:
    whether an AddBonus item accrues; None for other commands)."""
    fields = wired_fields(declaration)
    if accrues is not None:
        fields = _add_bonus_fields(fields, accrues)
    return fields, item_model(fields, f"{declaration.command.__name__}Item")


def _add_bonus_fields(fields: tuple[Wired, ...], accrues: bool) -> tuple[Wired, ...]:
    """An AddBonus item's fields: the amount may be absent; the rest of the accrual is checked
    only when it accrues; the message text may be absent or empty (no message)."""
    return tuple(
        dataclasses.replace(one, optional=True) if one.name in ("amount", "text") else one
        for one in fields if one.part != "accrual" or accrues or one.name == "amount")


def _accrues(amount: object) -> bool:
    """Whether an amount is one that accrues (> 0); a wrong one is checked, and refused."""
    try:
        return amount is not None and float(typing.cast(Any, amount)) != 0
    except (TypeError, ValueError):
        return True


@functools.cache
def _payload_class(declaration: Declaration, part: str) -> type:
    payload = _payload_of(typing.get_type_hints(declaration.command)[part])
    assert payload is not None
    return payload


def _part(declaration: Declaration, part: str, values: Fields) -> Any:
    payload = _payload_class(declaration, part)
    if payload is domain.Accrual and not values.get("amount"):
        return None  # no accrual: the amount alone was given, and it is 0
    if payload is domain.Message and not values.get("text"):
        return None  # no message: an empty one is none
    return payload(**{name: value for name, value in values.items() if value is not None})


def _envelope(command: CommandEnvelope, own: Fields) -> WorkItem:
    common = {"command_id": command.id, "type_of_command": command.declaration.name,
              "programme": command.programme, "command_timestamp": command.timestamp,
              "guid": own.pop("guid"), "uniq_id": own.pop("uniq_id")}
    layout = WorkItem.model_fields
    if all(name in layout for name in own):
        return WorkItem(**common, **own)
    return WorkItem(**common, payload={name: _plain(value) for name, value in own.items()})


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


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
