"""The outcome of each item by guid: idempotency, and the source of every stage-2 result."""

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.outcomes import GuidReused, ItemProcessed, ItemResent, Shown
from services.domain import ids
from services.domain.answers import Answer, Rejection, ShownMessage
from services.domain.commands import Item


class ItemOutcome(Aggregate):
    """The stored answer to one guid: replays answer from here, never from the world."""

    def __init__(self, fingerprint: str, position: str, customer_id: str | None) -> None:
        self.fingerprint = fingerprint
        self.positions = {position}
        self.customer_id = customer_id
        self.answer: Answer | None = None

    @classmethod
    def record(cls, item: Item, position: str, customer_id: UUID | None,
               answer: Answer) -> "ItemOutcome":
        """Creates the outcome of an item processed for the first time."""
        return cls._create(
            ItemProcessed, id=ids.item_id(item.programme, item.guid), programme=item.programme,
            fingerprint=item.fingerprint, position=position,
            customer_id=None if customer_id is None else str(customer_id), **parts(answer),
            command_timestamp=item.command_timestamp,
        )

    @property
    def stored_answer(self) -> Answer:
        """The answer recorded when the item was processed first."""
        assert self.answer is not None
        return self.answer

    def has_seen(self, position: str) -> bool:
        """Whether an item at this position was already answered (a redelivery)."""
        return position in self.positions

    def resend(self, position: str) -> Answer:
        """The same item again at a new position: the stored answer, identical."""
        self.trigger_event(ItemResent, position=position, customer_id=self.customer_id,
                           **parts(self.stored_answer))
        return self.stored_answer

    def refuse_reuse(self, position: str, fingerprint: str, answer: Answer) -> Answer:
        """Other content under this guid: records the `DUPLICATE_GUID` answer given."""
        self.trigger_event(GuidReused, position=position, fingerprint=fingerprint,
                           customer_id=self.customer_id, **parts(answer))
        return answer

    def when(self, event: Any) -> None:
        """Applies one of the outcome's events to its state."""
        match event:
            case ItemProcessed():
                self.answer = answer_of(event)
            case ItemResent() | GuidReused():
                self.positions.add(event.position)


def parts(answer: Answer) -> dict[str, Any]:
    """The attributes of an outcome event that carry `answer`."""
    return {
        "guid": answer.guid, "command_id": answer.command_id,
        "type_of_command": answer.type_of_command,
        "login": answer.login, "status": answer.status,
        "error_code": None if answer.rejection is None else answer.rejection.value,
        "messages": None if answer.messages is None else [
            Shown(message_id=m.message_id, text=m.text, shows_left=m.shows_left)
            for m in answer.messages],
    }


def answer_of(event: ItemProcessed | ItemResent | GuidReused) -> Answer:
    """The answer an outcome event carries."""
    return Answer(
        command_id=event.command_id, type_of_command=event.type_of_command, guid=event.guid,
        login=event.login,
        rejection=None if event.error_code is None else Rejection(event.error_code),
        messages=None if event.messages is None else list(
            ShownMessage(m["message_id"], m["text"], m["shows_left"]) for m in event.messages),
    )
