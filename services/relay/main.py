"""Entry point of the results relay: `loyalty relay`."""

import asyncio

import structlog

from services.bootstrap import event_store, stop_on_signals
from services.kafka import ensure_topics
from services.logs import configure_logging
from services.relay.publisher import ResultsRelay
from services.settings import Settings

log = structlog.get_logger(__name__)


async def serve(settings: Settings) -> None:
    stop = stop_on_signals()
    await ensure_topics(settings)
    app = await asyncio.to_thread(event_store, settings)
    relay = ResultsRelay(settings, app)
    log.info("relay started", topic=settings.results_topic)
    await relay.run(stop)
    app.close()
    log.info("relay stopped", results=relay.results_published)


def main(settings: Settings) -> None:
    configure_logging(settings, "relay")
    asyncio.run(serve(settings))
