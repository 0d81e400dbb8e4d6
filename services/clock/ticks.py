"""The clock's ticks: find the customers with points due, send each a settlePoints item."""

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from aiokafka import AIOKafkaProducer

from projections.lots import find_due
from services.adapters.health import Watchdog
from services.adapters.kafka import send_reliably
from services.adapters.metrics import ServiceMetrics
from services.contract.commands import CommandType, WorkItem
from services.contract.topics import item_key
from services.settings import Settings

log = structlog.get_logger(__name__)

CLOCK_NAMESPACE = uuid.UUID("3f0f6d7e-2a3b-5c4d-9e8f-7a6b5c4d3e2f")
PER_TICK = 10_000
"""At most this many customers are settled per tick (the rest at the next one)."""


def settlement(programme: str, uniq_id: str, at: datetime) -> WorkItem:
    """The clock's item for one customer at one instant (its guid is derived from both)."""
    guid = str(uuid.uuid5(CLOCK_NAMESPACE, f"{programme}/{uniq_id}/{at.isoformat()}"))
    return WorkItem(command_id="clock", type_of_command=CommandType.SETTLE_POINTS,
                    programme=programme, guid=guid, uniq_id=uniq_id, at=at)


Connect = Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]
"""Opens a connection to the read models (a new one every tick)."""


class Clock:
    """Ticks every interval until stopped: each tick reads the customers due through a
    connection `connect` opens, and sends their items with a producer `producer` makes (in the
    event loop, where aiokafka must create it)."""

    def __init__(self, settings: Settings, metrics: ServiceMetrics, watchdog: Watchdog,
                 producer: Callable[[], AIOKafkaProducer], connect: Connect) -> None:
        self.settings = settings
        self.metrics = metrics
        self.watchdog = watchdog
        self.producer = producer
        self.connect = connect
        self.settled = 0

    async def run(self, stop: asyncio.Event) -> None:
        sending = self.producer()
        await sending.start()
        try:
            while not stop.is_set():
                try:
                    await self.tick(sending, datetime.now(UTC))
                    self.watchdog.check("database", None)
                except (psycopg.Error, OSError) as error:
                    log.warning("clock tick failed; trying at the next one", error=repr(error))
                    self.watchdog.check("database", f"the last tick failed: {error!r}")
                    self.metrics.error("tick")
                await self.pause(stop)
        finally:
            await sending.stop()

    async def tick(self, sending: AIOKafkaProducer, now: datetime) -> None:
        """Sends a settlePoints item to every customer with a lot due at `now`."""
        async with await self.connect() as conn:
            due = await find_due(conn, now, PER_TICK)
        for customer in due:
            item = settlement(customer.programme, customer.uniq_id, now)
            await send_reliably(sending, self.settings.items_topic, item.to_json(),
                                key=item_key(item.programme, item.uniq_id))
        if due:
            log.info("points settled", customers=len(due), at=now.isoformat())
            self.settled += len(due)
            self.metrics.handled(self.settings.items_topic, len(due), "settled")

    async def pause(self, stop: asyncio.Event) -> None:
        """Waits for the next tick (stop ends the wait), telling the watchdog every second that
        the clock still turns."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self.settings.clock_interval_seconds
        while not stop.is_set() and loop.time() < until:
            self.watchdog.turned()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(1.0, until - loop.time()))
