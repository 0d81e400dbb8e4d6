"""`loyalty projections run`: the read models follow the event store and the results topic."""

import asyncio
import threading

import structlog

from projections.pending import follow_validation_results
from projections.writer import follow
from services.adapters.health import Watchdog
from services.adapters.metrics import ServiceMetrics, report_group_lag
from services.settings import Settings

log = structlog.get_logger(__name__)


async def run_projections(settings: Settings, metrics: ServiceMetrics, watchdog: Watchdog,
                          stop: asyncio.Event) -> None:
    """Follows the event store (in a thread) and the validation results until `stop` is set."""
    stop_thread = threading.Event()
    events = asyncio.create_task(
        asyncio.to_thread(follow, settings, stop_thread, watchdog, metrics))
    pending = asyncio.create_task(follow_validation_results(settings, stop))
    lag = asyncio.create_task(report_group_lag(
        metrics, settings, settings.projections_group,
        settings.results_topics()))
    log.info("projections running")
    try:
        await stop.wait()
    finally:
        stop_thread.set()
        lag.cancel()
        await asyncio.gather(events, pending, lag, return_exceptions=True)
        log.info("projections stopped")
