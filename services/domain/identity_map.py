"""The aggregates one unit of work has loaded or created, each loaded at most once.

An identity map: every item of a batch sees what earlier items of the same batch did, because
they all work on the same in-memory aggregates until the unit of work's pending events are saved.
"""

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from services.domain import ids
from services.domain.customer import Customer
from services.domain.indexes import EmailIndex, PhoneIndex
from services.domain.outcomes import ItemOutcome

Loader = Callable[[UUID], Aggregate | None]
"""Loads an aggregate by id from the event store; None when it does not exist."""

AggregateType = TypeVar("AggregateType", bound=Aggregate)


class IdentityMap:
    """Loads each aggregate once through `load` and remembers it, created ones too."""

    def __init__(self, load: Loader) -> None:
        self._load = load
        self._aggregates: dict[UUID, Aggregate | None] = {}

    def get(self, aggregate_id: UUID, kind: type[AggregateType]) -> AggregateType | None:
        """The aggregate with this id, of this kind, or None when it does not exist."""
        if aggregate_id not in self._aggregates:
            self._aggregates[aggregate_id] = self._load(aggregate_id)
        found = self._aggregates[aggregate_id]
        if found is not None and not isinstance(found, kind):
            raise TypeError(f"aggregate {aggregate_id} is a {type(found).__name__}, not {kind}")
        return found

    def add(self, *aggregates: Aggregate) -> None:
        """Remembers aggregates created in this unit of work."""
        for aggregate in aggregates:
            self._aggregates[aggregate.id] = aggregate

    def pending(self) -> list[Aggregate]:
        """Every remembered aggregate with events not saved yet."""
        return [a for a in self._aggregates.values() if a is not None and a.pending_events]

    def customer(self, programme: str, uniq_id: str) -> Customer | None:
        """The customer with this uniqId, if any."""
        return self.get(ids.customer_id(programme, uniq_id), Customer)

    def customer_by_id(self, customer_id: UUID) -> Customer | None:
        """The customer with this aggregate id, if any."""
        return self.get(customer_id, Customer)

    def indexes(self, programme: str, phone: str | None,
                email: str | None) -> tuple[PhoneIndex | None, EmailIndex | None]:
        """The indexes of an E.164 phone and of an address (any case); None for one not given,
        or that nobody ever held."""
        return (None if phone is None else self.get(ids.phone_id(programme, phone), PhoneIndex),
                None if email is None else self.get(ids.email_id(programme, email), EmailIndex))

    def outcome(self, programme: str, guid: str) -> ItemOutcome | None:
        """The outcome of the item with this guid, if it was processed."""
        return self.get(ids.item_id(programme, guid), ItemOutcome)
