"""Entry point of the processor: `loyalty processor`."""

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
    consumer = await asyncio.to_thread(bootstrap.processor, settings)
    log.info("processor started", topic=settings.items_topic, group=settings.processor_group)
    try:
        await consumer.run(stop)
    finally:
        await asyncio.to_thread(consumer.close)
    log.info("processor stopped", items=consumer.items_processed)


def main(settings: Settings) -> None:
    configure_logging(settings, "processor")
    asyncio.run(serve(settings))
