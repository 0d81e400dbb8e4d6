"""This machine's ceilings on the pipeline's volume: raw Kafka and raw PostgreSQL.

Kafka: the items as JSON, one record each (what intake writes to the items topic), produced
with the services' producer settings (acks=all, idempotent, their linger) by aiokafka, and
consumed back by a consumer that runs along. PostgreSQL: rows shaped like the event store's
(uuid, bigint version, text topic, bytea state; primary key and notification-id index alike),
inserted with COPY in batches of 500 rows, one transaction per batch.
"""

import asyncio
import os
import time
import uuid
from collections.abc import Iterator, Sequence

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import NewTopic
from tqdm import tqdm

from services import bootstrap
from services.adapters.kafka_access import start_diagnosed
from services.settings import Settings

PARTITIONS = 8
BATCH_ROWS = 500
VERSIONS_PER_AGGREGATE = 4
POSTGRES_METHOD = f"COPY, {BATCH_ROWS} rows per transaction"
SCRATCH_TABLE = "bench_ceiling_events"
CREATE_TABLE = f"""
CREATE TABLE {SCRATCH_TABLE} (
    originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea,
    notification_id bigserial, PRIMARY KEY (originator_id, originator_version));
CREATE UNIQUE INDEX ON {SCRATCH_TABLE} (notification_id ASC);
"""
COPY = f"COPY {SCRATCH_TABLE} (originator_id, originator_version, topic, state) FROM STDIN"
SAMPLE_EVENTS = "SELECT topic, state FROM loyalty_events ORDER BY notification_id LIMIT 1000"
FALLBACK_EVENT = ("events.customer:PointsAccrued", os.urandom(400))


async def kafka_round_trip(settings: Settings, topic: str,
                           payloads: Sequence[bytes]) -> tuple[float, float]:
    """(seconds until every record was acknowledged, seconds until every one was consumed), on
    a topic replicated as the services' topics are."""
    admin = bootstrap.kafka_admin(settings)
    await start_diagnosed(admin, settings)
    try:
        await admin.create_topics([NewTopic(
            topic, PARTITIONS, settings.topic_replication_factor,
            topic_configs={"min.insync.replicas": str(settings.topic_min_insync_replicas)})])
    finally:
        await admin.close()
    consumer = bootstrap.kafka_reader(settings, max_partition_fetch_bytes=4 * 1024 * 1024)
    consumer.assign([TopicPartition(topic, partition) for partition in range(PARTITIONS)])
    kafka = bootstrap.kafka_producer(settings)
    await consumer.start()
    await consumer.seek_to_beginning()
    await kafka.start()
    try:
        consuming = asyncio.create_task(consume(consumer, len(payloads)))
        started = time.perf_counter()
        with tqdm(total=len(payloads), desc="ceiling: kafka produce", unit="record") as bar:
            acknowledgements = []
            for payload in payloads:
                acknowledgements.append(await kafka.send(topic, payload))
                bar.update()
            await asyncio.gather(*acknowledgements)
        produced = time.perf_counter() - started
        await consuming
        return produced, time.perf_counter() - started
    finally:
        await kafka.stop()
        await consumer.stop()


async def consume(consumer: AIOKafkaConsumer, count: int) -> None:
    """Consumes until `count` records have come back."""
    seen = 0
    with tqdm(total=count, desc="ceiling: kafka consume", unit="record") as bar:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            fresh = sum(len(records) for records in batches.values())
            seen += fresh
            bar.update(fresh)


def event_rows(count: int, samples: Sequence[tuple[str, bytes]]) -> Iterator[tuple[object, ...]]:
    """`count` rows of a few versions per aggregate, topics and states taken from `samples`."""
    originator = uuid.uuid4()
    for n in range(count):
        version = n % VERSIONS_PER_AGGREGATE + 1
        if version == 1:
            originator = uuid.uuid4()
        topic, state = samples[n % len(samples)]
        yield originator, version, topic, state


def sample_events(conn: psycopg.Connection) -> list[tuple[str, bytes]]:
    """Real event rows of the pipeline's run (a fallback shape when there are none)."""
    rows = conn.execute(SAMPLE_EVENTS).fetchall()
    return [(topic, bytes(state)) for topic, state in rows] or [FALLBACK_EVENT]


def postgres_insert(dsn: str, count: int) -> tuple[float, int]:
    """(seconds to COPY `count` event rows in batches, mean state size in bytes)."""
    with psycopg.connect(dsn) as conn:
        samples = sample_events(conn)
        conn.execute(CREATE_TABLE)
        conn.commit()
        rows = list(event_rows(count, samples))
        started = time.perf_counter()
        with tqdm(total=count, desc="ceiling: postgres insert", unit="row") as bar:
            for first in range(0, count, BATCH_ROWS):
                batch = rows[first:first + BATCH_ROWS]
                with conn.transaction(), conn.cursor() as cursor, cursor.copy(COPY) as copy:
                    for row in batch:
                        copy.write_row(row)
                bar.update(len(batch))
        seconds = time.perf_counter() - started
        conn.execute(f"DROP TABLE {SCRATCH_TABLE}")
        conn.commit()
    return seconds, sum(len(state) for _, state in samples) // len(samples)
