"""Reads what the processor stored, straight from the event store (the source of truth)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from services import bootstrap
from services.adapters.event_store import EventStore
from services.domain.ids import customer_id
from services.settings import Settings


@contextmanager
def event_store(dsn: str) -> Iterator[EventStore]:
    store = bootstrap.event_store(Settings(postgres_dsn=dsn))
    try:
        yield store
    finally:
        store.close()


def customer(dsn: str, uniq_id: str, programme: str = "default") -> Any:
    """The customer aggregate, or None."""
    with event_store(dsn) as store:
        return store.load(customer_id(programme, uniq_id))


def event_names(dsn: str, uniq_id: str, programme: str = "default") -> list[str]:
    with event_store(dsn) as store:
        events = store.events.get(customer_id(programme, uniq_id))
        return [type(event).__name__ for event in events]
