"""Between the wire and the domain: a work item becomes a domain command, an answer a result."""

import dataclasses
import hashlib
import json
import typing
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import TypeAdapter

from services.contract.commands import CommandType, WorkItem
from services.contract.declarations import declared
from services.contract.results import ItemError, ProcessingResult, ShownMessage
from services.contract.topics import is_programme_name
from services.domain import commands as domain
from services.domain.answers import Answer, Rejection

ERRORS: dict[Rejection, ItemError] = {
    Rejection.CUSTOMER_BLOCKED: ItemError(
        code=Rejection.CUSTOMER_BLOCKED, message="The customer is blocked", field="uniqId"),
    Rejection.CUSTOMER_NOT_FOUND: ItemError(
        code=Rejection.CUSTOMER_NOT_FOUND, message="No customer has this uniqId", field="uniqId"),
    Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER: ItemError(
        code=Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER,
        message="The phone number belongs to another customer", field="phone"),
    Rejection.DUPLICATE_GUID: ItemError(
        code=Rejection.DUPLICATE_GUID,
        message="The guid was already used for an item with other content", field="guid"),
    Rejection.ORIGINAL_NOT_FOUND: ItemError(
        code=Rejection.ORIGINAL_NOT_FOUND,
        message="No operation of this customer has the originalGuid", field="originalGuid"),
    Rejection.EXCEEDS_ORIGINAL: ItemError(
        code=Rejection.EXCEEDS_ORIGINAL,
        message="The amount exceeds what is left of the original operation", field="amount"),
    Rejection.INSUFFICIENT_POINTS: ItemError(
        code=Rejection.INSUFFICIENT_POINTS,
        message="The customer has not enough active points (or has debt)", field="amount"),
    Rejection.MESSAGE_QUEUE_FULL: ItemError(
        code=Rejection.MESSAGE_QUEUE_FULL,
        message="The customer has as many messages waiting as a customer may have; nothing of "
                "the item was applied", field="message"),
    Rejection.TOO_MANY_LOTS: ItemError(
        code=Rejection.TOO_MANY_LOTS,
        message="The customer holds as many unspent accruals as a customer may hold; nothing of "
                "the item was applied", field="amount"),
    Rejection.TOO_MANY_ALLOCATIONS: ItemError(
        code=Rejection.TOO_MANY_ALLOCATIONS,
        message="The spend would take points from more accruals than one spend may",
        field="amount"),
    Rejection.LINK_REVOKED: ItemError(
        code=Rejection.LINK_REVOKED,
        message="The login link was revoked: the customer's links were replaced since",
        field=None),
    Rejection.LINK_EXPIRED: ItemError(
        code=Rejection.LINK_EXPIRED, message="The login link had expired", field=None),
    Rejection.PROCESSING_FAILED: ItemError(
        code=Rejection.PROCESSING_FAILED,
        message="The item could not be processed; the operators were alerted", field=None),
}
"""The error of each stage-2 rejection: code, message, field."""


def command_of(item: WorkItem) -> domain.Command | domain.SettlePoints:
    """The domain command of a validated work item, as its declaration says."""
    if item.type_of_command == CommandType.SETTLE_POINTS:
        if item.at is None:
            raise ValueError("a settlePoints item names its instant (at)")
        return domain.SettlePoints(item.programme, item.uniq_id, item.at)
    declaration = declared(item.type_of_command)
    if declaration is None:
        raise ValueError(f"no command is declared as {item.type_of_command!r}")
    own: dict[str, Any] = dict(declaration.constants)
    for name in own_fields(declaration.command):
        if name in own:
            continue
        if item.payload is not None:
            if name in item.payload:
                own[name] = _typed(declaration.command, name).validate_python(item.payload[name])
        elif name in WORK_ITEM_FIELDS:
            own[name] = getattr(item, name)
    command: domain.Command = declaration.command(  # type: ignore[assignment]
        programme=item.programme, guid=item.guid, uniq_id=item.uniq_id,
        command_id=item.command_id, type_of_command=item.type_of_command,
        fingerprint=item.fingerprint(), command_timestamp=item.command_timestamp, **own)
    return command


def own_fields(command: Any) -> tuple[str, ...]:
    """The fields of a domain command beyond what every item carries."""
    found = _OWN_FIELDS.get(command)
    if found is None:
        shared = {field.name for field in dataclasses.fields(domain.Item)}
        found = _OWN_FIELDS[command] = tuple(
            field.name for field in dataclasses.fields(command) if field.name not in shared)
    return found


_OWN_FIELDS: dict[Any, tuple[str, ...]] = {}

WORK_ITEM_FIELDS = frozenset(WorkItem.model_fields)
"""The work item's fields, read once: pydantic answers `model_fields` through a descriptor
that costs more than the lookup, and `command_of` asks for every field of every item."""


def _typed(command: Any, name: str) -> TypeAdapter[Any]:
    """Reads a field of a command declared after the work item's layout, from its JSON."""
    found = _TYPED.get((command, name))
    if found is None:
        found = _TYPED[command, name] = TypeAdapter(typing.get_type_hints(command)[name])
    return found


_TYPED: dict[tuple[Any, str], TypeAdapter[Any]] = {}


def result_of(answer: Answer) -> ProcessingResult:
    """The stage-2 result that publishes an answer."""
    return ProcessingResult(
        command_id=answer.command_id, type_of_command=answer.type_of_command, login=answer.login,
        guid=answer.guid, status="Success" if answer.rejection is None else "Error",
        error=None if answer.rejection is None else ERRORS[answer.rejection],
        messages=None if answer.messages is None else [
            ShownMessage(message_id=m.message_id, text=m.text, shows_left=m.shows_left)
            for m in answer.messages],
    )


ERROR_OBJECTS: dict[str, dict[str, Any]] = {
    rejection.value: error.model_dump(mode="json", by_alias=True)
    for rejection, error in ERRORS.items()}
"""The `error` object of each stage-2 rejection, as a result carries it."""


def result_json(answer: Mapping[str, Any]) -> bytes:
    """The stage-2 result of an outcome event's answer as JSON carries it (its stored state,
    decoded without building objects): byte for byte `result_of(answer_of(event)).to_json()`,
    at a fraction of its cost."""
    code = answer["error_code"]
    messages = answer["messages"]
    return orjson.dumps({
        "commandId": answer["command_id"], "typeOfCommand": answer["type_of_command"],
        "stage": "processing", "login": answer["login"], "guid": answer["guid"],
        "status": "Success" if code is None else "Error",
        "error": None if code is None else ERROR_OBJECTS[code],
        "messages": None if messages is None else [
            {"messageId": m["message_id"], "text": m["text"], "showsLeft": m["shows_left"]}
            for m in messages],
    })


def salvaged_identity(raw: bytes | None) -> domain.Item | None:
    """Who an item record that cannot be read as a whole is about, when its identity can be
    read: a JSON object with a well-formed programme, a guid, a uniqId, a commandId and a
    typeOfCommand. Its fingerprint is a digest of the record's bytes."""
    try:
        document = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(document, dict):
        return None
    fields = [document.get(name) for name in
              ("programme", "guid", "uniqId", "commandId", "typeOfCommand")]
    texts = [value for value in fields if isinstance(value, str) and 0 < len(value) <= 1000]
    if len(texts) != len(fields):
        return None
    programme, guid, uniq_id, command_id, type_of_command = texts
    if not is_programme_name(programme):
        return None
    return domain.Item(programme=programme, guid=guid, uniq_id=uniq_id, command_id=command_id,
                       type_of_command=type_of_command,
                       fingerprint=hashlib.sha256(raw or b"").hexdigest())
