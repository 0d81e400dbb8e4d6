"""The event store: eventsourcing's application that stores the domain's aggregates.

In memory (POPO) by default, as the unit tests use it; on PostgreSQL with the environment of
`services.adapters.postgres.event_store_env(settings)`, as every service uses it.
"""

from typing import Any
from uuid import UUID

import psycopg
from eventsourcing import persistence
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    ProcessRecorder,
    UUIDAsHex,
)
from psycopg_pool import PoolTimeout

import services.domain  # noqa: F401  (the aggregates, and the topics of earlier layouts)


def register_transcodings(transcoder: JSONTranscoder) -> None:
    """Registers every type the events carry beyond JSON's own: Decimal (amounts, balances),
    aware datetime (eventDate, showTill; the offset is kept) and UUID."""
    transcoder.register(UUIDAsHex())
    transcoder.register(DecimalAsStr())
    transcoder.register(DatetimeAsISO())


class EventStore(Application[UUID]):
    """The store of customers, indexes and item outcomes; its tables are named `loyalty_*`.

    Its recorder is a process recorder: events and the Kafka positions they were caused by are
    inserted in one transaction (`store.events.put(events, trackings=[...])`).
    """

    name = "loyalty"
    recorder: ProcessRecorder

    def construct_recorder(self) -> ProcessRecorder:
        """A recorder of events that also tracks the positions they were caused by."""
        return self.factory.process_recorder()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """Registers the transcodings of the domain's events (see module function)."""
        register_transcodings(transcoder)

    def load(self, aggregate_id: UUID) -> Aggregate | None:
        """The aggregate with this id, or None when it does not exist: a unit of work's loader."""
        try:
            found: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Aggregate) else None


UNAVAILABLE = (persistence.OperationalError, persistence.InterfaceError, psycopg.OperationalError,
               psycopg.InterfaceError, PoolTimeout, ConnectionError, TimeoutError)
"""What a store that cannot be reached raises (eventsourcing has retried a few times already)."""


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` says the store cannot be reached now, rather than that an item or a
    statement is wrong: waiting, then trying again, is the cure."""
    return isinstance(error, UNAVAILABLE)
