"""The outcome of each item by guid: idempotency, and the source of every stage-2 result."""

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.commands import WorkItem
from events.results import ProcessingResult
from services.customers import ids


class ItemOutcome(Aggregate):
    """The stored stage-2 result of one guid: replays answer from here, never from the world."""

    class ItemProcessed(Aggregate.Created):
        programme: str
        guid: str
        fingerprint: str
        position: str
        customer_id: str | None
        result: dict[str, Any]

    class ItemResent(Aggregate.Event):
        position: str
        result: dict[str, Any]

        def apply(self, aggregate: "ItemOutcome") -> None:
            aggregate.positions.add(self.position)

    class GuidReused(Aggregate.Event):
        position: str
        fingerprint: str
        result: dict[str, Any]

        def apply(self, aggregate: "ItemOutcome") -> None:
            aggregate.positions.add(self.position)

    def __init__(
        self, fingerprint: str, position: str, customer_id: str | None, result: dict[str, Any]
    ) -> None:
        self.fingerprint = fingerprint
        self.positions = {position}
        self.customer_id = customer_id
        self.result = result

    @classmethod
    def record(
        cls, item: WorkItem, position: str, customer_id: UUID | None, result: ProcessingResult
    ) -> "ItemOutcome":
        """Creates the outcome of an item processed for the first time."""
        return cls._create(
            cls.ItemProcessed,
            id=ids.item_id(item.programme, item.guid),
            programme=item.programme,
            guid=item.guid,
            fingerprint=item.fingerprint(),
            position=position,
            customer_id=None if customer_id is None else str(customer_id),
            result=as_json(result),
        )

    @property
    def stored_result(self) -> ProcessingResult:
        """The result recorded when the item was processed first."""
        return ProcessingResult.model_validate(self.result)

    def has_seen(self, position: str) -> bool:
        """Whether an item at this position was already answered (a redelivery)."""
        return position in self.positions

    def resend(self, position: str) -> ProcessingResult:
        """The same item again at a new position: the stored result, identical."""
        self.trigger_event(self.ItemResent, position=position, result=self.result)
        return self.stored_result

    def refuse_reuse(
        self, position: str, fingerprint: str, result: ProcessingResult
    ) -> ProcessingResult:
        """Other content under this guid: records the `DUPLICATE_GUID` result given."""
        self.trigger_event(
            self.GuidReused, position=position, fingerprint=fingerprint, result=as_json(result)
        )
        return result


def as_json(result: ProcessingResult) -> dict[str, Any]:
    """A result as stored in events: its JSON object, by alias."""
    return result.model_dump(mode="json", by_alias=True)
