"""The events of an item's outcome: internal bookkeeping, the source of every stage-2 result.

One `ItemOutcome` aggregate per guid (uuid5 of programme and guid) records how stage 2 answered
the item, so a redelivered or re-sent item is answered from here, never from the world as it is
now. Each event carries the whole answer: `login`, `status`, `error_code` and, for a login,
the `messages` shown (`[{message_id, text, shows_left}]`); the wording of a result on the wire
is the contract layer's business, not the stored event's.

Version 1 stored the wire result itself (`result`, a JSON object in camelCase); version 2
stores its parts, and `upcast_v1_v2` turns a stored version 1 into them. `ItemProcessed`
version 3 adds `command_timestamp`, when the item's command was produced (None before);
`ItemResent` and `GuidReused` version 3 add `customer_id`, whose key seals the messages' texts.
"""

from datetime import datetime
from typing import Any, TypedDict

from events.base import Created, Event


class Shown(TypedDict):
    """One message shown at a login."""

    message_id: str
    text: str
    shows_left: int


def _answer_of_result(state: dict[str, Any]) -> None:
    """Replaces a version-1 wire result in `state` by the answer's parts (in place)."""
    result = state.pop("result")
    error = result.get("error") or {}
    messages = result.get("messages")
    state.update(
        guid=result["guid"],
        command_id=result["commandId"],
        type_of_command=result["typeOfCommand"],
        login=result["login"],
        status=result["status"],
        error_code=error.get("code"),
        messages=None if messages is None else [
            {"message_id": m["messageId"], "text": m["text"], "shows_left": m["showsLeft"]}
            for m in messages
        ],
    )


def _no_command_timestamp(state: dict[str, Any]) -> None:
    """Version 2 did not know when the item's command was produced (in place)."""
    state["command_timestamp"] = None


def _no_customer(state: dict[str, Any]) -> None:
    """Version 2 of a repeated or refused answer did not name the customer (in place): its
    messages, if any, were stored as they were."""
    state["customer_id"] = None


class ItemProcessed(Created):
    """Stage 2 answered an item seen for the first time (Success, or Error with a code)."""

    class_version = 3
    personal = ("messages.*.text",)
    personal_subject = "customer_id"

    programme: str
    guid: str
    fingerprint: str
    """A digest of the item's content: equal for a re-sent item, different for a reused guid."""
    position: str
    """`topic:partition:offset` of the record that carried the item."""
    customer_id: str | None
    command_id: str
    type_of_command: str
    login: str
    status: str
    error_code: str | None
    messages: list[Shown] | None
    command_timestamp: datetime | None
    """The Kafka timestamp of the command's record that brought the item (None: unknown)."""

    upcast_v1_v2 = staticmethod(_answer_of_result)
    upcast_v2_v3 = staticmethod(_no_command_timestamp)


class ItemResent(Event):
    """The same item came again at a new position: the first answer, repeated. Version 3 names
    the customer whose key seals the messages shown (None before, and for no customer)."""

    class_version = 3
    personal = ("messages.*.text",)
    personal_subject = "customer_id"

    position: str
    customer_id: str | None
    guid: str
    command_id: str
    type_of_command: str
    login: str
    status: str
    error_code: str | None
    messages: list[Shown] | None

    upcast_v1_v2 = staticmethod(_answer_of_result)
    upcast_v2_v3 = staticmethod(_no_customer)


class GuidReused(Event):
    """Another item came with this guid and other content: it was refused (DUPLICATE_GUID).
    Version 3 names the customer of the first item, like `ItemResent`."""

    class_version = 3
    personal = ("messages.*.text",)
    personal_subject = "customer_id"

    position: str
    fingerprint: str
    customer_id: str | None
    guid: str
    command_id: str
    type_of_command: str
    login: str
    status: str
    error_code: str | None
    messages: list[Shown] | None

    upcast_v1_v2 = staticmethod(_answer_of_result)
    upcast_v2_v3 = staticmethod(_no_customer)


ANSWERS = (ItemProcessed, ItemResent, GuidReused)
"""Every event that carries an answer to publish as a stage-2 result."""
