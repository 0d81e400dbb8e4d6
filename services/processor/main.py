"""Entry point of the processor: `loyalty processor`."""

import asyncio

import structlog

from services.bootstrap import event_store, stop_on_signals
from services.kafka import ensure_topics
from services.logs import configure_logging
from services.processor.consumer import ItemConsumer
from services.processor.recording import ItemRecorder
from services.settings import Settings

log = structlog.get_logger(__name__)


async def serve(settings: Settings) -> None:
    stop = stop_on_signals()
    await ensure_topics(settings)
    app = await asyncio.to_thread(event_store, settings)
    consumer = ItemConsumer(settings, ItemRecorder(app))
    log.info("processor started", topic=settings.items_topic, group=settings.processor_group)
    task = asyncio.create_task(consumer.run(stop))
    await asyncio.wait([task, asyncio.create_task(stop.wait())],
                       return_when=asyncio.FIRST_COMPLETED)
    await task
    app.close()
    log.info("processor stopped", items=consumer.items_recorded)


def main(settings: Settings) -> None:
    configure_logging(settings, "processor")
    asyncio.run(serve(settings))
