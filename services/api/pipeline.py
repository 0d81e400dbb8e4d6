"""The HTTP application's way into the pipeline: one Kafka producer for commands and items.

The producer is opened once for the application's lifetime (`pipeline_lifespan`, shared by
every router that needs it) and reached in a route through the `Upstream` parameter. It waits
for every in-sync replica (acks=all), so a record it reports sent is durable.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated

import structlog
from aiokafka import AIOKafkaProducer
from fastapi import Depends, FastAPI, HTTPException, Request

from services.adapters.kafka import producer
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


class PipelineClient:
    """Sends organisers' commands and the window's items to Kafka."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
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
        """Flushes and stops the producer."""
        if self._producer is not None:
            await self._producer.stop()

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
                candidate = producer(self._settings)
                try:
                    await asyncio.wait_for(candidate.start(), SEND_TIMEOUT_SECONDS)
                except Exception as error:
                    await candidate.stop()
                    raise PipelineUnavailableError("kafka does not answer") from error
                self._producer = candidate
            return self._producer


def pipeline_lifespan(
    settings: Settings,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A router lifespan that opens the application's one `PipelineClient` (in
    `app.state.pipeline`) and closes it at shutdown; routers that share it open it once."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "pipeline", None) is not None:
            yield
            return
        client = PipelineClient(settings)
        await client.connect()
        app.state.pipeline = client
        try:
            yield
        finally:
            app.state.pipeline = None
            await client.close()

    return lifespan


def pipeline_of(request: Request) -> PipelineClient:
    """The application's pipeline client; 503 when the application's lifespan did not run
    (so no `pipeline_lifespan` opened one)."""
    client: PipelineClient | None = getattr(request.app.state, "pipeline", None)
    if client is None:
        raise HTTPException(503, "the service is not connected to the pipeline")
    return client


Upstream = Annotated[PipelineClient, Depends(pipeline_of)]
"""A route parameter: the application's `PipelineClient`."""
