"""Kafka plumbing shared by the services: topic creation and producer settings."""

import asyncio
import contextlib
import itertools
import random
from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NodeNotReadyError,
    TopicAlreadyExistsError,
)
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from services.settings import Settings

log = structlog.get_logger(__name__)

MAX_RECORD_BYTES = 4 * 1024 * 1024
"""Above the command limit, so that an oversized command reaches intake and gets its error."""


async def ensure_topics(settings: Settings) -> None:
    """Creates the service's topics when they do not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [settings.commands_topic, settings.items_topic, settings.results_topic,
                  settings.events_topic, settings.dead_letter_topic]
        missing = [
            NewTopic(name, settings.topic_partitions, 1,
                     topic_configs={"max.message.bytes": str(MAX_RECORD_BYTES)})
            for name in wanted if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # created meanwhile elsewhere
                await admin.create_topics(missing)
            log.info("topics created", topics=[topic.name for topic in missing])
    finally:
        await admin.close()


def producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    """A producer that waits for the broker's acknowledgement and never reorders."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_request_size=MAX_RECORD_BYTES,
        **options,
    )


def is_transient(error: BaseException) -> bool:
    """Whether a Kafka failure passes by itself (the broker unreachable, a leader moving, a
    timeout), so that retrying, for as long as it takes, is right."""
    if isinstance(error, KafkaError):
        return bool(error.retriable) or isinstance(
            error, KafkaTimeoutError | KafkaConnectionError | NodeNotReadyError)
    return isinstance(error, TimeoutError | ConnectionError)


def backoff(attempt: int, first: float = 0.2, longest: float = 10.0) -> float:
    """Seconds to wait before retry number `attempt` (0, 1, ...): exponential, jittered."""
    return min(longest, first * 2 ** min(attempt, 16)) * random.uniform(0.5, 1.0)


async def send_reliably(producer: AIOKafkaProducer, topic: str, value: bytes | None, *,
                        key: bytes | None = None, headers: Sequence[tuple[str, bytes]] = (),
                        attempts: int = 3) -> None:
    """Produces one record and waits for the broker's acknowledgement. A transient failure is
    retried for as long as it lasts; another, `attempts` times, then raised."""
    failures = 0
    for attempt in itertools.count():
        try:
            await producer.send_and_wait(topic, value, key=key, headers=list(headers))
            return
        except Exception as error:
            if not is_transient(error):
                failures += 1
                if failures >= attempts:
                    raise
            wait = backoff(attempt)
            log.warning("record not acknowledged; retrying", topic=topic, error=repr(error),
                        retry_seconds=round(wait, 2))
            await asyncio.sleep(wait)


Record = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]
"""(topic, key, value, headers) of one record to produce."""


async def send_batched(producer: AIOKafkaProducer, records: Sequence[Record]) -> None:
    """Produces the records, in order within each partition, and waits for every
    acknowledgement: gathered into one batch per partition (`create_batch` / `send_batch`)
    instead of handed over one by one, a third of the producer's CPU per record. A keyed
    record goes to the partition the producer's own partitioner would choose."""
    partitioner = DefaultPartitioner()
    partitions: dict[str, list[int]] = {}
    open_batches: dict[tuple[str, int], BatchBuilder] = {}
    acks: list[asyncio.Future[Any]] = []
    for topic, key, value, headers in records:
        if topic not in partitions:
            partitions[topic] = sorted(await producer.partitions_for(topic))
        partition = partitioner(key, partitions[topic], partitions[topic])
        batch = open_batches.get((topic, partition))
        if batch is not None and batch.append(
                key=key, value=value, timestamp=None, headers=headers) is not None:
            continue
        if batch is not None:  # full: off it goes, a new one takes the record
            acks.append(await producer.send_batch(batch, topic, partition=partition))
        batch = open_batches[(topic, partition)] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            del open_batches[(topic, partition)]  # larger than a batch: a request of its own
            acks.append(await producer.send(topic, value, key=key, partition=partition,
                                            headers=headers))
    for (topic, partition), batch in open_batches.items():
        acks.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*acks)


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    """The partitions of a topic (none when it does not exist; it is not created)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return []
        (described,) = await admin.describe_topics([topic])
        return sorted(partition["partition"] for partition in described["partitions"])
    finally:
        await admin.close()
