"""How stage 2 answers one item: Success, or Error with the rule that refused it."""

from dataclasses import dataclass
from enum import StrEnum

from services.domain.commands import AuthorizeCustomer, Item


class Rejection(StrEnum):
    """Why stage 2 refused an item (the error codes of stage-2 results)."""

    DUPLICATE_GUID = "DUPLICATE_GUID"
    CUSTOMER_BLOCKED = "CUSTOMER_BLOCKED"
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    PHONE_BELONGS_TO_ANOTHER_CUSTOMER = "PHONE_BELONGS_TO_ANOTHER_CUSTOMER"
    ORIGINAL_NOT_FOUND = "ORIGINAL_NOT_FOUND"
    EXCEEDS_ORIGINAL = "EXCEEDS_ORIGINAL"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    MESSAGE_QUEUE_FULL = "MESSAGE_QUEUE_FULL"
    TOO_MANY_LOTS = "TOO_MANY_LOTS"
    TOO_MANY_ALLOCATIONS = "TOO_MANY_ALLOCATIONS"
    LINK_REVOKED = "LINK_REVOKED"
    """A login through a link of an older version than the customer's (links revoked since)."""
    LINK_EXPIRED = "LINK_EXPIRED"
    """A login through a link processed after the link expired."""
    PROCESSING_FAILED = "PROCESSING_FAILED"
    """Not a rule: the item could not be applied, and retrying will not cure it (a bug)."""


@dataclass(frozen=True, slots=True)
class ShownMessage:
    """A message shown at a login, and the shows it has left after it."""

    message_id: str
    text: str
    shows_left: int


@dataclass(frozen=True, slots=True)
class Answer:
    """The stage-2 answer to one item, as stored in its outcome and published as its result."""

    command_id: str
    type_of_command: str
    guid: str
    login: str
    """The uniqId of the customer the item was applied to (by rule 4, perhaps the address's
    longest holder)."""
    rejection: Rejection | None = None
    messages: list[ShownMessage] | None = None
    """authorizeCustomer only: the messages shown at this login."""

    @property
    def status(self) -> str:
        return "Success" if self.rejection is None else "Error"


def answer(item: Item, login: str, rejection: Rejection | None,
           messages: list[ShownMessage] | None) -> Answer:
    """The answer to `item`; a login always lists the messages shown (none on an error)."""
    if messages is None and isinstance(item, AuthorizeCustomer):
        messages = []
    return Answer(
        command_id=item.command_id, type_of_command=item.type_of_command, guid=item.guid,
        login=login, rejection=rejection, messages=messages,
    )
