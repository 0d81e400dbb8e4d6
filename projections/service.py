"""`loyalty projections run`: the read models follow the event store and the results topic.

What it runs is made by the composition root (`services.bootstrap.projections`): the read
models' follower (in a thread: eventsourcing and psycopg block), the pending items' consumer,
and the report of the projections' group lag.
"""

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from projections.pending import PendingItems
from projections.writer import ReadModelFollower

log = structlog.get_logger(__name__)


class ProjectionsService:
    """Follows the event store (in a thread) and the validation results until stopped."""

    def __init__(self, follower: ReadModelFollower, pending: PendingItems,
                 lag: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.follower = follower
        self.pending = pending
        self.lag = lag
        """Reports the group's lag until cancelled."""

    async def run(self, stop: asyncio.Event) -> None:
        stop_thread = threading.Event()
        events = asyncio.create_task(asyncio.to_thread(self.follower.follow, stop_thread))
        pending = asyncio.create_task(self.pending.follow(stop))
        lag = asyncio.create_task(self.lag())
        log.info("projections running")
        try:
            await stop.wait()
        finally:
            stop_thread.set()
            lag.cancel()
            await asyncio.gather(events, pending, lag, return_exceptions=True)
            log.info("projections stopped")
