"""Stage 1: the format validation of one organiser's command, as a pure function.

The command as a whole is checked first, in this order: its size, that it is a JSON object,
its `typeOfCommand`, its item list and the number of items. A command that fails any of these
is rejected whole. Otherwise every item is checked on its own (see `services.contract.items`):
the valid ones go on to stage 2, the others are answered with their first error.
"""

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from services.contract.commands import WorkItem
from services.contract.declarations import DECLARATIONS, Declaration, declared
from services.contract.errors import ErrorCode
from services.contract.fields import read_number
from services.contract.items import CommandEnvelope, check_item
from services.contract.results import CommandError, ItemStatus, ValidationResult
from services.contract.rules import ValidationRules
from services.contract.topics import is_programme_name

__all__ = ["Validated", "ValidationRules", "validate_command"]


@dataclass(frozen=True)
class Validated:
    """The stage-1 outcome of one command."""

    result: ValidationResult
    """The stage-1 result for the whole command."""
    items: list[WorkItem]
    """The valid items, in command order, to forward to stage 2."""


class _CommandRejectedError(Exception):
    def __init__(self, code: ErrorCode, message: str, type_of_command: str | None = None):
        super().__init__(message)
        self.error = CommandError(code=code, message=message)
        self.type_of_command = type_of_command


def validate_command(
    raw: bytes, *, command_id: str, programme: str | None, rules: ValidationRules,
    topic_programme: str | None = None,
    timestamp: datetime | None = None,
) -> Validated:
    """Check one command, as the organiser sent it, against the rules of stage 1.

    `programme` is the command's programme as named by its sender (None: a name that is not
    text, or, on a programme's own topic `topic_programme`, another programme than it);
    `timestamp`, its record's Kafka timestamp, goes with its items. Never raises: whatever
    the bytes, the answer is a `ValidationResult`.
    """
    try:
        programme = _programme(programme, rules, topic_programme)
        document = _document(raw, rules)
        declaration = _declaration(document)
        entries = _entries(document, declaration, rules)
    except _CommandRejectedError as rejection:
        result = ValidationResult(
            command_id=command_id,
            type_of_command=rejection.type_of_command,
            error=rejection.error,
        )
        return Validated(result=result, items=[])
    command = CommandEnvelope(id=command_id, declaration=declaration, programme=programme,
                              timestamp=timestamp)
    return _check_items(entries, command, rules)


def _check_items(entries: list[Any], command: CommandEnvelope, rules: ValidationRules) -> Validated:
    statuses: list[ItemStatus] = []
    items: list[WorkItem] = []
    for entry in entries:
        status, item = check_item(entry, command, rules)
        statuses.append(status)
        if item is not None:
            items.append(item)
    result = ValidationResult(
        command_id=command.id, type_of_command=command.declaration.name, results=statuses
    )
    return Validated(result=result, items=items)


def _programme(name: str | None, rules: ValidationRules, topic_programme: str | None) -> str:
    if name is None and topic_programme is not None:
        raise _CommandRejectedError(
            ErrorCode.INVALID_PROGRAMME,
            f"the programme header names another programme than {topic_programme!r}, whose "
            "topic the command was sent to")
    if name is None or not is_programme_name(name):
        raise _CommandRejectedError(
            ErrorCode.INVALID_PROGRAMME,
            "the programme must be 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit")
    if rules.programmes and name not in rules.programmes:
        raise _CommandRejectedError(
            ErrorCode.INVALID_PROGRAMME, "the programme is not one this service serves")
    return name


def _document(raw: bytes, rules: ValidationRules) -> dict[str, Any]:
    if len(raw) > rules.max_bytes:
        raise _CommandRejectedError(
            ErrorCode.PAYLOAD_TOO_LARGE, f"the command is larger than {rules.max_bytes} bytes"
        )
    try:
        number = functools.partial(read_number, max_digits=rules.max_decimal_digits,
                                   max_exponent=rules.max_decimal_exponent)
        document = json.loads(
            raw.decode("utf-8-sig"),
            parse_float=number,
            parse_int=number,
            parse_constant=_no_constant,
        )
    except (ValueError, RecursionError):
        raise _CommandRejectedError(
            ErrorCode.INVALID_JSON, "the command is not valid UTF-8 JSON"
        ) from None
    if not isinstance(document, dict):
        raise _CommandRejectedError(ErrorCode.INVALID_JSON, "the command must be a JSON object")
    if b"\\u" in raw and not _utf8_strings(document):
        raise _CommandRejectedError(
            ErrorCode.INVALID_JSON, "the command has a \\u escape of an unpaired surrogate"
        )
    return document


def _utf8_strings(document: dict[str, Any]) -> bool:
    """Whether every string in the document can be written as UTF-8 again.

    Only a `\\u` escape of half a surrogate pair makes one that cannot. Strict parsers reject
    such JSON outright, and a result or work item repeating the string could not be serialised.
    """
    pending: list[Any] = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                return False
    return True


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _declaration(document: dict[str, Any]) -> Declaration:
    name = document.get("typeOfCommand")
    if name is None:
        raise _CommandRejectedError(ErrorCode.UNKNOWN_COMMAND, "typeOfCommand is required")
    declaration = declared(name)
    if declaration is None:
        known = ", ".join(DECLARATIONS)
        raise _CommandRejectedError(
            ErrorCode.UNKNOWN_COMMAND,
            f"typeOfCommand must be one of: {known}",
            type_of_command=name if isinstance(name, str) else None,
        )
    return declaration


def _entries(
    document: dict[str, Any], declaration: Declaration, rules: ValidationRules
) -> list[Any]:
    field = declaration.items_under
    entries = document.get(field)
    if entries is None:
        raise _CommandRejectedError(
            ErrorCode.MISSING_FIELD, f"{field} is required", declaration.name
        )
    if not isinstance(entries, list):
        raise _CommandRejectedError(
            ErrorCode.INVALID_FORMAT, f"{field} must be a list of items", declaration.name
        )
    if len(entries) > rules.max_items:
        raise _CommandRejectedError(
            ErrorCode.TOO_MANY_ITEMS,
            f"{field} has {len(entries)} items, at most {rules.max_items} are accepted",
            declaration.name,
        )
    return entries
