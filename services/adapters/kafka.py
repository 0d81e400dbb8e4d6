"""Kafka plumbing shared by the services: topic creation and producer settings."""

import asyncio
import contextlib
import itertools
import random
from collections.abc import Sequence
from typing import Any, NamedTuple

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
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
        wanted = [*settings.commands_topics(), settings.items_topic,
                  *settings.results_topics(), *settings.events_topics(),
                  settings.dead_letter_topic]
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


def consumer(settings: Settings, group: str, **options: Any) -> AIOKafkaConsumer:
    """A consumer of the group that commits only what the service says (after the broker
    acknowledged everything a batch caused), reading a partition without a committed offset
    from its beginning."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_partition_fetch_bytes=MAX_RECORD_BYTES,
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


class Record(NamedTuple):
    """One record to produce."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()


async def send_batched(producer: AIOKafkaProducer, records: Sequence[Record]) -> None:
    """Produces the records (`enqueue_batched`) and waits for every acknowledgement."""
    await asyncio.gather(*set(await enqueue_batched(producer, records)))


async def enqueue_batched(producer: AIOKafkaProducer, records: Sequence[Record],
                          ) -> list["asyncio.Future[Any]"]:
    """Hands the records to the producer, in order within each partition, gathered into one
    batch per partition (`create_batch` / `send_batch`) instead of one by one: a third of the
    producer's CPU per record. A keyed record goes to the partition the producer's own
    partitioner would choose. Returns, for each record, the acknowledgement of its batch."""
    partitioner = DefaultPartitioner()
    partitions: dict[str, list[int]] = {}
    open_batches: dict[tuple[str, int], tuple[BatchBuilder, list[int]]] = {}
    acks: list[asyncio.Future[Any] | None] = [None] * len(records)

    async def send(batch: BatchBuilder, members: list[int], topic: str, partition: int) -> None:
        sent = await producer.send_batch(batch, topic, partition=partition)
        for member in members:
            acks[member] = sent

    for n, (topic, key, value, headers) in enumerate(records):
        if topic not in partitions:
            partitions[topic] = sorted(await producer.partitions_for(topic))
        partition = partitioner(key, partitions[topic], partitions[topic])
        batch, members = open_batches.get((topic, partition), (None, []))
        if batch is not None and batch.append(
                key=key, value=value, timestamp=None, headers=list(headers)) is not None:
            members.append(n)
            continue
        if batch is not None:  # full: off it goes, a new one takes the record
            await send(batch, members, topic, partition)
        batch = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=list(headers)) is None:
            open_batches.pop((topic, partition), None)  # larger than a batch: on its own
            acks[n] = await producer.send(topic, value, key=key, partition=partition,
                                          headers=list(headers))
            continue
        open_batches[(topic, partition)] = (batch, [n])
    for (topic, partition), (batch, members) in open_batches.items():
        await send(batch, members, topic, partition)
    sent = [ack for ack in acks if ack is not None]
    assert len(sent) == len(records), "every record is in a batch"
    return sent


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


async def stable_members(bootstrap: str, groups: Sequence[str]) -> dict[str, int]:
    """The members of each consumer group, counted when the group is Stable (a group that is
    rebalancing, empty or unknown counts 0)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        members = dict.fromkeys(groups, 0)
        for group in groups:  # one per request: aiokafka 0.12 misreads a reply about several
            for response in await admin.describe_consumer_groups([group]):
                for _error, _group, state, _protocol_type, _protocol, group_members, *_ in (
                        response.groups):
                    if state == "Stable":
                        members[group] = len(group_members)
        return members
    finally:
        await admin.close()
