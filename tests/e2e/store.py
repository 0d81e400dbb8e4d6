"""Reads what the processor stored, straight from the event store (the source of truth)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from services.bootstrap import event_store as services_event_store
from services.customers.application import CustomerApplication
from services.customers.ids import customer_id
from services.settings import Settings


@contextmanager
def event_store(dsn: str) -> Iterator[CustomerApplication]:
    app = services_event_store(Settings(postgres_dsn=dsn))
    try:
        yield app
    finally:
        app.close()


def customer(dsn: str, uniq_id: str, programme: str = "default") -> Any:
    """The customer aggregate, or None."""
    with event_store(dsn) as app:
        return app.load(customer_id(programme, uniq_id))


def event_names(dsn: str, uniq_id: str, programme: str = "default") -> list[str]:
    with event_store(dsn) as app:
        events = app.events.get(customer_id(programme, uniq_id))
        return [type(event).__name__ for event in events]
