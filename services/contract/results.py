"""Results published on `loyalty.results` and answered by the HTTP gateway.

The per-item part (`ItemStatus`) has exactly the shape of the source API's response:
`{"login", "guid", "status", "error": null | {"code", "message", "field"}}`.
"""

from typing import Literal

from pydantic import Field

from services.contract.commands import Contract
from services.contract.errors import Code, ErrorCode

Status = Literal["Success", "Error"]

GUID_EXAMPLE = "9803d32e-8fcd-4984-a736-9f02f726b3c0"
LOGIN_EXAMPLE = "12345678"
COMMAND_ID_EXAMPLE = "c-1"


class ItemError(Contract):
    """Why one item of a command was refused, by stage 1 (format) or stage 2 (rules)."""

    code: Code = Field(description="The error code: a stage-1 format error or a stage-2 "
                                   "rejection.", examples=["INVALID_PHONE"])
    message: str = Field(description="What is wrong, for a person to read.",
                         examples=["phone is not a valid phone number"])
    field: str | None = Field(None, description="The item's field at fault (its name in the "
                                                "command), or null.", examples=["phone"])


class CommandError(Contract):
    """Why a command was refused as a whole: nothing of it is processed."""

    code: ErrorCode = Field(description="The error code of the whole command.",
                            examples=["UNKNOWN_COMMAND"])
    message: str = Field(description="What is wrong, for a person to read.",
                         examples=["typeOfCommand must be one of: addCustomerPointMessage, ..."])


class ItemStatus(Contract):
    """The stage-1 status of one item of a command, in the shape of the source API."""

    login: str | None = Field(description="The item's uniqId, or null when it has none.",
                              examples=[LOGIN_EXAMPLE])
    guid: str | None = Field(description="The item's guid, or null when it has none.",
                             examples=[GUID_EXAMPLE])
    status: Status = Field(description="Success: accepted for processing; Error: refused, "
                                       "not processed.", examples=["Success"])
    error: ItemError | None = Field(None, description="Why the item was refused; null on "
                                                      "Success.", examples=[None])


class ValidationResult(Contract):
    """Stage 1: one per command, keyed by commandId."""

    command_id: str = Field(description="The command's commandId (its header, or derived from "
                                        "its topic, partition and offset).",
                            examples=[COMMAND_ID_EXAMPLE])
    type_of_command: str | None = Field(description="The command's typeOfCommand, or null when "
                                                    "it has none that is a string.",
                                        examples=["addCustomerPointMessage"])
    stage: Literal["validation"] = Field("validation", description="Always `validation`.",
                                         examples=["validation"])
    results: list[ItemStatus] = Field(
        default_factory=list, description="The status of every item, in command order; empty "
                                          "when the command is refused as a whole.",
        examples=[[{"login": LOGIN_EXAMPLE, "guid": GUID_EXAMPLE, "status": "Success",
                    "error": None}]])
    error: CommandError | None = Field(None, description="Why the whole command was refused; "
                                                         "null otherwise.", examples=[None])


class ShownMessage(Contract):
    """An information message shown to the customer at a login."""

    message_id: str = Field(description="The message's id.",
                            examples=["63c9532b-938c-5ca9-9a38-2e2b3e3007b8"])
    text: str | None = Field(description="The message's text; null once the customer was "
                                         "erased.", examples=["Message for customer"])
    shows_left: int = Field(description="How many more times it will be shown.", examples=[2])


class ProcessingResult(Contract):
    """Stage 2: one per accepted item, keyed by guid."""

    command_id: str = Field(description="The commandId of the command the item came in.",
                            examples=[COMMAND_ID_EXAMPLE])
    type_of_command: str = Field(description="The command's typeOfCommand.",
                                 examples=["addCustomerPointMessage"])
    stage: Literal["processing"] = Field("processing", description="Always `processing`.",
                                         examples=["processing"])
    login: str = Field(description="The uniqId of the customer the item was applied to (for "
                                   "an item matched by e-mail, that customer's).",
                       examples=[LOGIN_EXAMPLE])
    guid: str = Field(description="The item's guid.", examples=[GUID_EXAMPLE])
    status: Status = Field(description="The item's final outcome.", examples=["Success"])
    error: ItemError | None = Field(None, description="Why the item was refused; null on "
                                                      "Success.", examples=[None])
    messages: list[ShownMessage] | None = Field(
        None, description="authorizeCustomer only: the messages shown at that login; null for "
                          "other commands.",
        examples=[[{"messageId": "63c9532b-938c-5ca9-9a38-2e2b3e3007b8",
                    "text": "Message for customer", "showsLeft": 2}]])
