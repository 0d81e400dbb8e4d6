"""Where stored events of earlier layouts find their classes.

The event store keeps each event's topic: the path of its class when it was stored. Events
stored before the events moved into this package name the aggregates' nested classes, e.g.
`services.customers.domain.customer:Customer.PointsAccrued`; eventsourcing's `register_topic`
maps each such topic to the class that reads it now. When a class moves, add its old topic
here: a stored topic is never rewritten. (The aggregates' own old topics, which creating events
carry as `originator_topic`, are registered by the domain beside the aggregates.)
"""

from eventsourcing.utils import register_topic

from events import customer, indexes, outcomes
from events.base import Event

FIRST_LAYOUT: dict[str, tuple[type[Event] | type, ...]] = {
    "services.customers.domain.customer:Customer": customer.PUBLIC,
    "services.customers.domain.indexes:PhoneIndex": (indexes.PhoneClaimed, indexes.PhoneReleased),
    "services.customers.domain.indexes:EmailIndex": (
        indexes.EmailHolderAdded, indexes.EmailHolderRemoved),
    "services.customers.domain.outcomes:ItemOutcome": outcomes.ANSWERS,
}
"""The aggregates of the first layout (by topic) and the events once nested in them."""


def legacy_topics() -> dict[str, type]:
    """Every event topic of an earlier layout -> the class that reads it now."""
    return {
        f"{aggregate}.{cls.__name__}": cls
        for aggregate, classes in FIRST_LAYOUT.items() for cls in classes
    }


for _topic, _cls in legacy_topics().items():
    register_topic(_topic, _cls)
