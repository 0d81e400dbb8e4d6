"""The OpenAPI description of `POST /v1/commands`: the command family and the stage-1 answer.

A wrong item is answered with its own `Error` status (HTTP 200), so the request schema
documents the items' fields but the gateway does not refuse a command for one bad item.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.contract.results import CommandError, ItemStatus
from services.contract.schemas import command_schema
from services.contract.validation import ValidationRules


def request_body(rules: ValidationRules) -> dict[str, Any]:
    """The OpenAPI request body: one command of the family, as on the commands topic, its
    schema made from the command declarations (`services.contract.schemas`)."""
    return {
        "required": True,
        "description": f"One command, exactly as on the commands topic (at most "
                       f"{rules.max_items} items and {rules.max_bytes} bytes).",
        "content": {"application/json": {"schema": command_schema(rules)}},
    }


class CommandAnswer(BaseModel):
    """The stage-1 answer: `results` per item, or an empty list and the command's `error`."""

    model_config = ConfigDict(title="CommandAnswer")

    results: list[ItemStatus] = Field(
        description="The stage-1 status of every item, in command order; empty when the "
                    "command is rejected as a whole.",
        examples=[[{"login": "12345678", "guid": "9803d32e-8fcd-4984-a736-9f02f726b3c0",
                    "status": "Success", "error": None}]])
    error: CommandError | None = Field(
        None, description="Why the whole command was rejected; absent when it was not.",
        examples=[{"code": "UNKNOWN_COMMAND", "message": "typeOfCommand must be one of: "
                                                        "addCustomerPointMessage, ..."}])


COMMAND_ID = {"X-Command-Id": {
    "description": "The commandId the command was produced with: its stage-1 and stage-2 "
                   "results on the results topic carry it.",
    "required": True, "schema": {"type": "string", "format": "uuid"}}}
"""The response header that names the command (`services.api.gateway.COMMAND_ID_HEADER`)."""

STAGE1_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"model": CommandAnswer, "headers": COMMAND_ID,
          "description": "The stage-1 status of every item; the command is stored in Kafka",
          "content": {"application/json": {"example": {"results": [
              {"login": "12345678", "guid": "9803d32e-8fcd-4984-a736-9f02f726b3c0",
               "status": "Success", "error": None}]}}}},
    400: {"model": CommandAnswer, "headers": COMMAND_ID,
          "description": "The whole command is rejected (INVALID_JSON, UNKNOWN_COMMAND, ...)"},
    413: {"model": CommandAnswer,
          "description": "The body is larger than the limit (PAYLOAD_TOO_LARGE)"},
}
