"""The customer domain model: event-sourced aggregates, pure, no I/O.

Event class names and attributes are the public contract of docs/events.md; the aggregates are
`Customer` (customer.py), `PhoneIndex` and `EmailIndex` (indexes.py), `ItemOutcome`
(outcomes.py). Stored event topics name those modules: do not move the classes.
"""

from services.customers.domain.customer import (
    ActivationCause,
    Customer,
    CustomerStatus,
    QueuedMessage,
)
from services.customers.domain.errors import RuleViolationError
from services.customers.domain.indexes import EmailIndex, PhoneIndex
from services.customers.domain.outcomes import ItemOutcome, as_json

__all__ = [
    "ActivationCause",
    "Customer",
    "CustomerStatus",
    "EmailIndex",
    "ItemOutcome",
    "PhoneIndex",
    "QueuedMessage",
    "RuleViolationError",
    "as_json",
]
