"""Composition: build the pieces a service needs from settings, once, at start-up."""

import asyncio
import signal

import structlog

from services.customers.application import CustomerApplication
from services.kafka import ensure_topics
from services.settings import Settings
from services.store import event_store_env

log = structlog.get_logger(__name__)


def event_store(settings: Settings, *, create_tables: bool = False) -> CustomerApplication:
    """The customer application on PostgreSQL (its tables are made by `prepare`)."""
    return CustomerApplication(env=event_store_env(settings, create_tables=create_tables))


def prepare(settings: Settings) -> None:
    """Creates the topics, the event store and the read-model tables: every service can start."""
    from projections.runner import create_tables

    asyncio.run(ensure_topics(settings))
    event_store(settings, create_tables=True).close()
    create_tables(settings)
    log.info("topics, event store and read models ready")


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, for a service's main loop to end cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop
