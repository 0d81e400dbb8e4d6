"""Producing records each with its own outcome: retried until the broker acknowledged them, or
given up one by one, so that one record the broker refuses (too large, say) never holds up the
others; the caller dead-letters what was given up and goes on (intake, the relay).

A publisher produces through a producer of its own, made by the factory it is given (the
composition root gives `services.adapters.kafka.producer`: acks from every in-sync replica,
idempotent) in the event loop, started with the first batch and stopped with the service; it
hands records over a batch per partition (`enqueue_batched`)."""

import asyncio
import contextlib
from collections.abc import Callable, Hashable
from typing import TypeVar

import structlog
from aiokafka import AIOKafkaProducer

from services.adapters.backoff import backoff
from services.adapters.dead_letters import DeadLetter
from services.adapters.kafka import Record, enqueue_batched, is_transient
from services.adapters.metrics import ServiceMetrics
from services.settings import Settings

log = structlog.get_logger(__name__)

Tag = TypeVar("Tag", bound=Hashable)


class Publisher:
    """Produces records and awaits the broker's acks."""

    attempts = 3
    """Tries of a record whose failure is not transient, before its command is given up."""

    def __init__(self, settings: Settings, metrics: ServiceMetrics,
                 producer: Callable[[], AIOKafkaProducer]) -> None:
        self.settings = settings
        self.metrics = metrics
        self.producer = producer
        """Makes the producer; called in the event loop, where aiokafka must create it."""
        self.kafka: AIOKafkaProducer | None = None

    async def stop(self) -> None:
        if self.kafka is not None:
            await self.kafka.stop()
            self.kafka = None

    async def publish(self, tagged: list[tuple[Tag, Record]]) -> dict[Tag, BaseException]:
        """Produces every record; a transient failure is retried for as long as it lasts,
        another up to `attempts` times. Returns the tags whose records were not published."""
        given_up: dict[Tag, BaseException] = {}
        tries: dict[Tag, int] = {}
        pending = tagged
        for attempt in range(1_000_000_000):
            outcomes = await self._send_all([record for _, record in pending])
            retry: list[tuple[Tag, Record]] = []
            for (tag, record), outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome, asyncio.CancelledError):
                    raise outcome
                if not isinstance(outcome, BaseException) or tag in given_up:
                    continue
                self.metrics.error("produce")
                tries[tag] = tries.get(tag, 0) + (0 if is_transient(outcome) else 1)
                if tries[tag] >= self.attempts:
                    given_up[tag] = outcome
                else:
                    retry.append((tag, record))
            pending = [(tag, record) for tag, record in retry if tag not in given_up]
            if not pending:
                break
            wait = backoff(attempt)
            log.warning("records not acknowledged; retrying", records=len(pending),
                        error=repr(outcomes[0]), retry_seconds=round(wait, 2))
            await asyncio.sleep(wait)
        return given_up

    async def partitions(self, topic: str) -> list[int]:
        """The topic's partitions, in order, as the producer knows them; a failure that passes
        by itself (the broker away) is waited out like a record's."""
        for attempt in range(1_000_000_000):
            try:
                return sorted(await (await self._producer()).partitions_for(topic))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not is_transient(error):
                    raise
                self.metrics.error("produce")
                wait = backoff(attempt)
                log.warning("partitions not known; retrying", topic=topic, error=repr(error),
                            retry_seconds=round(wait, 2))
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def publish_dead_letter(self, letter: DeadLetter) -> None:
        """Produces a dead letter (it always fits in a record); raises when even that fails
        for a reason that lasts (the topic missing, no right to write it)."""
        await self.publish_dead_letter_record(letter.record(self.settings.dead_letter_topic))

    async def publish_dead_letter_record(self, record: Record) -> None:
        """Produces the record of a dead letter (see `publish_dead_letter`)."""
        failed = await self.publish([(0, record)])
        if failed:
            raise RuntimeError(f"dead letter to {record.topic} not published") from failed[0]

    async def _send_all(self, records: list[Record]) -> list[object]:
        """Hands the records to the producer a batch per partition, then awaits every ack:
        each record's outcome (a failed batch fails each of its records)."""
        try:
            acks = await enqueue_batched(await self._producer(), records)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            return [error] * len(records)
        return await asyncio.gather(*acks, return_exceptions=True)

    async def _producer(self) -> AIOKafkaProducer:
        """The producer, started on first use (a broker away: the error, retried like any)."""
        if self.kafka is None:
            kafka = self.producer()
            try:
                await kafka.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await kafka.stop()
                raise
            self.kafka = kafka
        return self.kafka
