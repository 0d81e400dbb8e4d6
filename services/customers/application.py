"""The event-sourced application that stores customers, indexes and item outcomes.

POPO (in memory) by default; PostgreSQL with
`CustomerApplication(env=services.store.event_store_env(settings))`.
"""

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    ProcessRecorder,
    UUIDAsHex,
)


def register_transcodings(transcoder: JSONTranscoder) -> None:
    """Registers every type the customer events carry beyond JSON's own: Decimal (amounts,
    balances), aware datetime (eventDate, showTill; the offset is kept) and UUID."""
    transcoder.register(UUIDAsHex())
    transcoder.register(DecimalAsStr())
    transcoder.register(DatetimeAsISO())


class CustomerApplication(Application[UUID]):
    """The event store of the customer domain; its tables are named `loyalty_*`.

    Its recorder is a process recorder: events and a tracking position (the Kafka offset
    consumed) are inserted in one transaction: `app.events.put(events, tracking=...)`.
    """

    name = "loyalty"
    recorder: ProcessRecorder

    def construct_recorder(self) -> ProcessRecorder:
        """A recorder of events that also tracks the positions they were caused by."""
        return self.factory.process_recorder()

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """Registers the transcodings of the customer events (see module function)."""
        register_transcodings(transcoder)

    def load(self, aggregate_id: UUID) -> Aggregate | None:
        """The aggregate with this id, or None when it does not exist: a book's loader."""
        try:
            found: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Aggregate) else None
