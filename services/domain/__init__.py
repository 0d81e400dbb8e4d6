"""The customer domain: aggregates and use cases of stage 2 (docs/rules.md), pure, no I/O.

Imports go one way: this package knows `events` (the events its aggregates record) and the
eventsourcing library's aggregate base, nothing of Kafka, PostgreSQL, HTTP or the wire format.
`UnitOfWork` applies the commands of `services.domain.commands` to the aggregates `Customer`,
`PhoneIndex`, `EmailIndex` and `ItemOutcome`.
"""

from eventsourcing.utils import register_topic

from services.domain.answers import Answer, Rejection, ShownMessage
from services.domain.customer import ActivationCause, Customer, CustomerStatus
from services.domain.identity_map import Loader
from services.domain.indexes import EmailIndex, PhoneIndex
from services.domain.outcomes import ItemOutcome
from services.domain.unit_of_work import UnitOfWork

for _old_topic, _aggregate in {
    "services.customers.domain.customer:Customer": Customer,
    "services.customers.domain.indexes:PhoneIndex": PhoneIndex,
    "services.customers.domain.indexes:EmailIndex": EmailIndex,
    "services.customers.domain.outcomes:ItemOutcome": ItemOutcome,
}.items():
    register_topic(_old_topic, _aggregate)  # creating events stored before the move name these

__all__ = [
    "ActivationCause",
    "Answer",
    "Customer",
    "CustomerStatus",
    "EmailIndex",
    "ItemOutcome",
    "Loader",
    "PhoneIndex",
    "Rejection",
    "ShownMessage",
    "UnitOfWork",
]
