"""Results published on `loyalty.results` and answered by the HTTP gateway.

The per-item part (`ItemStatus`) has exactly the shape of the source API's response:
`{"login", "guid", "status", "error": null | {"code", "message", "field"}}`.
"""

from typing import Literal

from pydantic import Field

from services.contract.commands import Contract
from services.contract.errors import Code, ErrorCode

Status = Literal["Success", "Error"]


class ItemError(Contract):
    code: Code
    message: str
    field: str | None = None


class CommandError(Contract):
    code: ErrorCode
    message: str


class ItemStatus(Contract):
    login: str | None
    guid: str | None
    status: Status
    error: ItemError | None = None


class ValidationResult(Contract):
    """Stage 1: one per command, keyed by commandId."""

    command_id: str
    type_of_command: str | None
    stage: Literal["validation"] = "validation"
    results: list[ItemStatus] = Field(default_factory=list)
    error: CommandError | None = None


class ShownMessage(Contract):
    message_id: str
    text: str
    shows_left: int


class ProcessingResult(Contract):
    """Stage 2: one per accepted item, keyed by guid."""

    command_id: str
    type_of_command: str
    stage: Literal["processing"] = "processing"
    login: str
    guid: str
    status: Status
    error: ItemError | None = None
    messages: list[ShownMessage] | None = None
    """authorizeCustomer only: the messages shown at that login."""
