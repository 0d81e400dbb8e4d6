"""Pending items: the items that stage 1 accepted, read from the validation results on Kafka.

Each item with status Success in a `ValidationResult` (stage "validation") is pending until its
stage-2 outcome is projected. The result must name its programme: the JSON field `programme`
(or, failing that, a `programme` record header); a result that names none is skipped, because
guessing would show one programme's items to another.
Inserting a pending item is idempotent, so the consumer commits its offsets after writing and a
redelivery changes nothing.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import psycopg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from projections.item_outcomes import PendingItem, pending_statement
from services.adapters.backoff import backoff
from services.contract.topics import PROGRAMME_HEADER

log = structlog.get_logger(__name__)


def pending_items(value: bytes | None, headers: dict[str, bytes]) -> list[PendingItem]:
    """The pending items of one record of the results topic (none for other records)."""
    if value is None or b"validation" not in value:
        return []  # a stage-2 result: most records, not worth parsing
    try:
        result: Any = json.loads(value or b"")
    except ValueError:
        return []
    if not isinstance(result, dict) or result.get("stage") != "validation":
        return []
    programme = result.get("programme") or headers.get(PROGRAMME_HEADER, b"").decode() or None
    if programme is None:
        log.warning("validation result without programme skipped",
                    command_id=result.get("commandId"))
        return []
    return [
        PendingItem(programme, item["guid"], item.get("login"), str(result.get("commandId")))
        for item in result.get("results") or []
        if isinstance(item, dict) and item.get("status") == "Success" and item.get("guid")
    ]


def record_items(record: ConsumerRecord) -> list[PendingItem]:
    """The pending items of a consumed record."""
    headers = {key: value for key, value in record.headers or ()}
    return pending_items(record.value, headers)


async def store(conn: psycopg.AsyncConnection[Any], items: list[PendingItem]) -> None:
    """Inserts the pending items in one statement."""
    statement = pending_statement(items)
    async with conn.transaction():
        await conn.execute(statement.query, statement.params_without_nul())


Connect = Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]
"""Opens a connection to the read models."""


class PendingItems:
    """Records pending items from the results topics until stopped: a consumer session
    (`consumer`, subscribed to `topics`) writes through a connection of its own (`connect`);
    a session that fails is started again, with backoff, with a new consumer and connection."""

    def __init__(self, consumer: Callable[[], AIOKafkaConsumer], topics: Sequence[str],
                 connect: Connect) -> None:
        self.consumer = consumer
        """Makes the consumer (of the projections' group); called in the event loop."""
        self.topics = topics
        self.connect = connect

    async def follow(self, stop: asyncio.Event) -> None:
        """Records pending items until `stop` is set."""
        failures = 0
        while not stop.is_set():
            try:
                await self.consume(stop)
                failures = 0
            except Exception:
                wait = backoff(failures, first=1.0, longest=30.0)
                failures += 1
                log.exception("pending items consumer failed; restarting",
                              retry_seconds=round(wait, 2))
                await asyncio.sleep(wait)

    async def consume(self, stop: asyncio.Event) -> None:
        """One consumer session: batches of records, written, then committed."""
        consumer = self.consumer()
        consumer.subscribe(list(self.topics))
        await consumer.start()
        try:
            async with await self.connect() as conn:
                while not stop.is_set():
                    batches = await consumer.getmany(timeout_ms=500, max_records=1000)
                    items = [item for records in batches.values()
                             for record in records for item in record_items(record)]
                    if items:
                        await store(conn, items)
                    if batches:
                        await consumer.commit()
        finally:
            await consumer.stop()
