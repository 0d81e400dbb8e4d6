"""The OpenAPI description of `POST /v1/commands`: the command family and the stage-1 answer.

Items are described loosely on purpose: a wrong item is answered with its own `Error` status
(HTTP 200), so only what fails a command as a whole belongs in the request schema.
"""

from typing import Any

from pydantic import BaseModel

from services.contract.commands import CommandType
from services.contract.results import CommandError, ItemStatus
from services.contract.validation import ValidationRules


def _command_schema(names: list[str], items: str, item: dict[str, Any],
                    max_items: int) -> dict[str, Any]:
    return {
        "type": "object", "required": ["typeOfCommand", items], "additionalProperties": True,
        "properties": {"typeOfCommand": {"type": "string", "enum": names},
                       items: {"type": "array", "maxItems": max_items, "items": item}},
    }


_TEXT = {"type": ["string", "null"]}
_ADD_BONUS = {
    "type": "object", "additionalProperties": True,
    "description": "An AddBonus item; each item is checked on its own and answered with its "
                   "own status, so a wrong item never fails the command.",
    "properties": {
        "guid": {"type": "string", "format": "uuid"}, "uniqId": {"type": "string"},
        "phone": _TEXT, "email": _TEXT, "amount": {"type": ["number", "string", "null"]},
        "info": _TEXT, "message": _TEXT, "showCount": {"type": ["integer", "null"]},
        "showTill": _TEXT, "eventId": _TEXT, "eventDate": _TEXT, "eventType": _TEXT,
        "operationType": _TEXT, "operationAmount": {"type": ["number", "string", "null"]},
        "merchantName": _TEXT, "bankProduct": _TEXT, "mcc": _TEXT,
        "availableFrom": _TEXT, "expiresAt": _TEXT,
    },
}
_AMOUNT = {"type": ["number", "string", "null"]}
_REVERSE = {
    "type": "object", "additionalProperties": True,
    "properties": {"guid": {"type": "string", "format": "uuid"}, "uniqId": {"type": "string"},
                   "originalGuid": {"type": "string", "format": "uuid"}, "amount": _AMOUNT,
                   "eventId": _TEXT, "eventDate": _TEXT, "reason": _TEXT},
}
_SPEND = {
    "type": "object", "additionalProperties": True,
    "properties": {"guid": {"type": "string", "format": "uuid"}, "uniqId": {"type": "string"},
                   "amount": _AMOUNT, "eventId": _TEXT, "eventDate": _TEXT,
                   "merchantName": _TEXT, "info": _TEXT},
}
_CANCEL = {
    "type": "object", "additionalProperties": True,
    "properties": {"guid": {"type": "string", "format": "uuid"}, "uniqId": {"type": "string"},
                   "originalGuid": {"type": "string", "format": "uuid"}, "amount": _AMOUNT},
}
_CUSTOMER = {
    "type": "object", "additionalProperties": True,
    "properties": {"guid": {"type": "string", "format": "uuid"}, "uniqId": {"type": "string"},
                   "reason": _TEXT, "method": {"type": "string", "enum": ["link", "self"]}},
}


def request_body(rules: ValidationRules) -> dict[str, Any]:
    """The OpenAPI request body: one command of the family, as on the commands topic."""
    return {
        "required": True,
        "description": f"One command, exactly as on the commands topic (at most "
                       f"{rules.max_items} items and {rules.max_bytes} bytes).",
        "content": {"application/json": {"schema": {"oneOf": [
            _command_schema([CommandType.ADD_CUSTOMER_POINT_MESSAGE,
                             CommandType.ADD_BONUS_EXT_QUICK], "add", _ADD_BONUS, rules.max_items),
            _command_schema([CommandType.BLOCK_CUSTOMERS, CommandType.ACTIVATE_CUSTOMERS,
                             CommandType.AUTHORIZE_CUSTOMER, CommandType.REVOKE_LINKS],
                            "customers", _CUSTOMER, rules.max_items),
            _command_schema([CommandType.REVERSE_BONUS], "reverse", _REVERSE, rules.max_items),
            _command_schema([CommandType.SPEND_BONUS], "spend", _SPEND, rules.max_items),
            _command_schema([CommandType.CANCEL_SPEND], "cancel", _CANCEL, rules.max_items),
        ]}}},
    }


class CommandAnswer(BaseModel):
    """The stage-1 answer: `results` per item, or an empty list and the command's `error`."""

    results: list[ItemStatus]
    error: CommandError | None = None


STAGE1_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"model": CommandAnswer,
          "description": "The stage-1 status of every item; the command is stored in Kafka",
          "content": {"application/json": {"example": {"results": [
              {"login": "12345678", "guid": "9803d32e-8fcd-4984-a736-9f02f726b3c0",
               "status": "Success", "error": None}]}}}},
    400: {"model": CommandAnswer,
          "description": "The whole command is rejected (INVALID_JSON, UNKNOWN_COMMAND, ...)"},
    413: {"model": CommandAnswer,
          "description": "The body is larger than the limit (PAYLOAD_TOO_LARGE)"},
}
