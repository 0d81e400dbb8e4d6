"""The domain events: the public, versioned contract of what happened to customers.

- `events.customer`: a customer's events, published on `loyalty.events` (docs/events.md);
- `events.indexes`, `events.outcomes`: internal bookkeeping (phone and e-mail indexes, each
  item's answer), stored like the others and never published;
- `events.published`: the published JSON form; `events.schema`: a JSON Schema per type
  (`events/schemas/`); `events.legacy`: the topics under which earlier layouts stored events.

Nothing here performs I/O or knows the services: the aggregates of `services.domain` record
these events and decide what they mean for their state. Change an event only by adding a
version with an upcaster (see `events.base`); never rename a class or an attribute.
"""

from eventsourcing.domain import AggregateEvent

from events import legacy as _legacy  # noqa: F401  (registers the topics of stored events)
from events.customer import PUBLIC

PUBLISHED: tuple[type[AggregateEvent], ...] = PUBLIC
"""Every event type published on `loyalty.events`."""

__all__ = ["PUBLISHED"]
