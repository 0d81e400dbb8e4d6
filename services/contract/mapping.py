"""Between the wire and the domain: a work item becomes a domain command, an answer a result."""

import hashlib
import json
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson

from services.contract.commands import CommandType, WorkItem
from services.contract.errors import ErrorCode
from services.contract.results import ItemError, ProcessingResult, ShownMessage
from services.contract.topics import is_programme_name
from services.domain import commands as domain
from services.domain.answers import Answer, Rejection

ERRORS: dict[Rejection, ItemError] = {
    Rejection.CUSTOMER_BLOCKED: ItemError(
        code=ErrorCode.CUSTOMER_BLOCKED, message="The customer is blocked", field="uniqId"),
    Rejection.CUSTOMER_NOT_FOUND: ItemError(
        code=ErrorCode.CUSTOMER_NOT_FOUND, message="No customer has this uniqId", field="uniqId"),
    Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER: ItemError(
        code=ErrorCode.PHONE_BELONGS_TO_ANOTHER_CUSTOMER,
        message="The phone number belongs to another customer", field="phone"),
    Rejection.DUPLICATE_GUID: ItemError(
        code=ErrorCode.DUPLICATE_GUID,
        message="The guid was already used for an item with other content", field="guid"),
    Rejection.ORIGINAL_NOT_FOUND: ItemError(
        code=ErrorCode.ORIGINAL_NOT_FOUND,
        message="No operation of this customer has the originalGuid", field="originalGuid"),
    Rejection.EXCEEDS_ORIGINAL: ItemError(
        code=ErrorCode.EXCEEDS_ORIGINAL,
        message="The amount exceeds what is left of the original operation", field="amount"),
    Rejection.INSUFFICIENT_POINTS: ItemError(
        code=ErrorCode.INSUFFICIENT_POINTS,
        message="The customer has not enough active points (or has debt)", field="amount"),
    Rejection.MESSAGE_QUEUE_FULL: ItemError(
        code=ErrorCode.MESSAGE_QUEUE_FULL,
        message="The customer has as many messages waiting as a customer may have; nothing of "
                "the item was applied", field="message"),
    Rejection.TOO_MANY_LOTS: ItemError(
        code=ErrorCode.TOO_MANY_LOTS,
        message="The customer holds as many unspent accruals as a customer may hold; nothing of "
                "the item was applied", field="amount"),
    Rejection.TOO_MANY_ALLOCATIONS: ItemError(
        code=ErrorCode.TOO_MANY_ALLOCATIONS,
        message="The spend would take points from more accruals than one spend may",
        field="amount"),
    Rejection.PROCESSING_FAILED: ItemError(
        code=ErrorCode.PROCESSING_FAILED,
        message="The item could not be processed; the operators were alerted", field=None),
}
"""The error of each stage-2 rejection: code, message, field."""


def command_of(item: WorkItem) -> domain.Command | domain.SettlePoints:
    """The domain command of a validated work item."""
    if item.type_of_command is CommandType.SETTLE_POINTS:
        if item.at is None:
            raise ValueError("a settlePoints item names its instant (at)")
        return domain.SettlePoints(item.programme, item.uniq_id, item.at)
    common: dict[str, Any] = {
        "programme": item.programme, "guid": item.guid, "uniq_id": item.uniq_id,
        "command_id": item.command_id, "type_of_command": item.type_of_command.value,
        "fingerprint": item.fingerprint(), "command_timestamp": item.command_timestamp,
    }
    match item.type_of_command:
        case CommandType.BLOCK_CUSTOMERS:
            return domain.BlockCustomer(**common, reason=item.reason)
        case CommandType.ACTIVATE_CUSTOMERS:
            return domain.ActivateCustomer(**common)
        case CommandType.AUTHORIZE_CUSTOMER:
            return domain.AuthorizeCustomer(**common, method=item.method)
        case CommandType.REVOKE_LINKS:
            return domain.RevokeLinks(**common)
        case CommandType.REVERSE_BONUS:
            return domain.ReverseBonus(**common, **dict(required(item.reversal)))
        case CommandType.SPEND_BONUS:
            return domain.SpendBonus(**common, **dict(required(item.spend)))
        case CommandType.CANCEL_SPEND:
            return domain.CancelSpend(**common, **dict(required(item.cancel)))
        case _:
            return domain.AddBonus(
                **common, quick=item.type_of_command is CommandType.ADD_BONUS_EXT_QUICK,
                phone=item.phone, email=item.email,
                accrual=None if item.accrual is None else domain.Accrual(**dict(item.accrual)),
                message=None if item.message is None else domain.Message(**dict(item.message)),
            )


Part = TypeVar("Part")


def required(part: Part | None) -> Part:
    """The part of a work item its command needs (a work item without it is not one)."""
    if part is None:
        raise ValueError("the work item lacks what its command needs")
    return part


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
