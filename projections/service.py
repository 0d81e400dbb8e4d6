"""`loyalty projections run`: the read models follow the event store and the results topic."""

import asyncio
import threading

import structlog

from projections.pending import follow_validation_results
from projections.runner import follow
from services.settings import Settings

log = structlog.get_logger(__name__)


async def run_projections(settings: Settings, stop: asyncio.Event) -> None:
    """Follows the event store (in a thread) and the validation results until `stop` is set."""
    stop_thread = threading.Event()
    events = asyncio.create_task(asyncio.to_thread(follow, settings, stop_thread))
    pending = asyncio.create_task(follow_validation_results(settings, stop))
    log.info("projections running")
    try:
        await stop.wait()
    finally:
        stop_thread.set()
        await asyncio.gather(events, pending, return_exceptions=True)
        log.info("projections stopped")
