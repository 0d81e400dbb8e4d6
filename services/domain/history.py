"""A customer's past: the customer as it was at any instant, from its events."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.domain.customer import Customer


def as_of(events: Iterable[Any], instant: datetime) -> Customer | None:
    """The customer as it was at `instant` (its events up to then, applied in order), or None
    when it did not exist yet. `events` are one customer's, in the order they were stored."""
    customer: Customer | None = None
    for event in events:
        if event.timestamp > instant:
            break
        customer = event.mutate(customer)
    return customer
