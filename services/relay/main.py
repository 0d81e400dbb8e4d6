"""Entry point of the relay: `loyalty relay`."""

import asyncio

import structlog

from services import bootstrap
from services.adapters.kafka import ensure_topics
from services.logs import configure_logging
from services.settings import Settings

log = structlog.get_logger(__name__)


async def serve(settings: Settings) -> None:
    stop = bootstrap.stop_on_signals()
    await ensure_topics(settings)
    service = await asyncio.to_thread(bootstrap.relay, settings)
    log.info("relay started", results=settings.results_topic, events=settings.events_topic)
    await service.run(stop)
    log.info("relay stopped", published=service.relay.published)


def main(settings: Settings) -> None:
    configure_logging(settings, "relay")
    asyncio.run(serve(settings))
