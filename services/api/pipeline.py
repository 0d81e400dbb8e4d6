"""The HTTP application's way into the pipeline: one Kafka producer for commands and items.

The producer is made by the factory the composition root gives (`services.bootstrap.api`),
started with the application (`ApiResources.open`) and stopped with it, and reached in a route
through the `Upstream` parameter. It waits for every in-sync replica (acks=all), so a record it
reports sent is durable.
"""

import asyncio
from collections.abc import Callable
from typing import Annotated, Protocol

import structlog
from aiokafka import AIOKafkaProducer
from fastapi import Depends, Request

from services.api.resources import resources_of
from services.contract import topics
from services.contract.commands import WorkItem
from services.settings import Settings

log = structlog.get_logger(__name__)

SEND_TIMEOUT_SECONDS = 10.0


class PipelineUnavailableError(Exception):
    """Kafka did not answer in time: the request may be retried."""


class UnacknowledgedError(PipelineUnavailableError):
    """The record was handed to the producer but not acknowledged in time: it may still be
    written, and then processed. Sending it again is harmless (items apply once per guid)."""


class Pipeline(Protocol):
    """What sends to the pipeline; tests give a fake."""

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def send_command(self, raw: bytes, *, programme: str, command_id: str) -> None: ...

    async def send_item(self, item: WorkItem) -> None: ...


class PipelineClient:
    """Sends organisers' commands and the window's items to Kafka, through a producer that
    `producer` makes (in the event loop, where aiokafka must create it; again after a start
    that failed, or a stop)."""

    def __init__(self, settings: Settings, producer: Callable[[], AIOKafkaProducer]) -> None:
        self._settings = settings
        self._make_producer = producer
        self._producer: AIOKafkaProducer | None = None
        self._producer_lock = asyncio.Lock()

    async def connect(self) -> None:
        """Starts the producer now, so the first request does not wait for it; when Kafka
        does not answer yet, logs it and starts the producer at the first request instead."""
        try:
            await self._started_producer()
        except PipelineUnavailableError as error:
            log.warning("kafka producer not started yet", error=str(error.__cause__))

    async def close(self) -> None:
        """Flushes and stops the producer; the next start makes a new one."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        self._producer_lock = asyncio.Lock()  # a later start may run in another event loop

    async def send_command(self, raw: bytes, *, programme: str, command_id: str) -> None:
        """Produces an organiser's command, as sent, to the commands topic; returns once
        the broker has acknowledged it."""
        headers = [(topics.PROGRAMME_HEADER, programme.encode()),
                   (topics.COMMAND_ID_HEADER, command_id.encode())]
        await self._send(self._settings.commands_topic_of(programme), raw, key=None,
                         headers=headers)

    async def send_item(self, item: WorkItem) -> None:
        """Produces a validated item straight to the items topic, keyed by its customer."""
        key = topics.item_key(item.programme, item.uniq_id)
        await self._send(self._settings.items_topic, item.to_json(), key=key, headers=[])

    async def _send(self, topic: str, value: bytes, *, key: bytes | None,
                    headers: list[tuple[str, bytes]]) -> None:
        started = await self._started_producer()
        try:
            await asyncio.wait_for(started.send_and_wait(topic, value, key=key, headers=headers),
                                   SEND_TIMEOUT_SECONDS)
        except Exception as error:
            raise UnacknowledgedError("kafka did not acknowledge the record in time") from error

    async def _started_producer(self) -> AIOKafkaProducer:
        async with self._producer_lock:
            if self._producer is None:
                candidate = self._make_producer()
                try:
                    await asyncio.wait_for(candidate.start(), SEND_TIMEOUT_SECONDS)
                except Exception as error:
                    await candidate.stop()
                    raise PipelineUnavailableError("kafka does not answer") from error
                self._producer = candidate
            return self._producer


def pipeline_of(request: Request) -> Pipeline:
    """The application's pipeline."""
    return resources_of(request).pipeline


Upstream = Annotated[Pipeline, Depends(pipeline_of)]
"""A route parameter: the application's `Pipeline`."""
