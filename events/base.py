"""What every domain event is: an immutable fact about one aggregate, applied by that aggregate.

Event classes are eventsourcing's frozen dataclasses, so the library stores and loads them as
they are. An event carries data only: the aggregate that records it decides what it means for
its state in its `when` method (`services.domain`), so this package stays the contract and
nothing else.

Versions are eventsourcing's: `class_version` on the class, and a static `upcast_vN_vM(state)`
for every older version, which the library runs on the stored state before it builds the event.
"""

from typing import Any, ClassVar

from eventsourcing.domain import AggregateCreated, AggregateEvent, CanMutateAggregate

PersonalFields = tuple[str, ...]
"""Paths of an event's personal fields: `phone`, or `messages.*.text` (each item of a list)."""


class Event(AggregateEvent):
    """An event of an aggregate that exists already."""

    class_version: ClassVar[int] = 1
    personal: ClassVar[PersonalFields] = ()
    """Its fields that say who a person is (docs/privacy.md): stored encrypted with the
    customer's key, left out of `loyalty.events` unless configured, gone once erased."""
    personal_subject: ClassVar[str] = "originator_id"
    """The field naming the customer whose key seals the personal fields."""

    def apply(self, aggregate: Any) -> None:
        aggregate.when(self)


class Created(AggregateCreated):
    """The event that creates an aggregate."""

    class_version: ClassVar[int] = 1
    personal: ClassVar[PersonalFields] = ()
    personal_subject: ClassVar[str] = "originator_id"

    def apply(self, aggregate: Any) -> None:
        aggregate.when(self)


class Recurring(Created):
    """A creating event that may also recur on the live aggregate.

    An index is created by its first claim, and the same event (`PhoneClaimed`,
    `EmailHolderAdded`) is recorded again when the phone or address is taken later on.
    """

    def mutate(self, aggregate: Any) -> Any:
        if aggregate is None:
            return super().mutate(None)
        return CanMutateAggregate.mutate(self, aggregate)


ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})
"""Attributes every event has from the library; an event's own data is the rest."""


def data_of(event: Any) -> dict[str, Any]:
    """The event's own attributes (without the library's envelope), by attribute name."""
    return {name: value for name, value in vars(event).items() if name not in ENVELOPE}
