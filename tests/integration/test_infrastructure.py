"""The real servers answer: a record round-trips through Kafka, a row through PostgreSQL."""

import asyncio
import uuid

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

pytestmark = pytest.mark.integration


async def round_trip(bootstrap: str, topic: str, value: bytes) -> bytes:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
        return record.value  # type: ignore[no-any-return]
    finally:
        await consumer.stop()


def test_a_record_round_trips_through_the_broker(kafka_bootstrap: str, topic_prefix: str) -> None:
    value = uuid.uuid4().bytes
    assert asyncio.run(round_trip(kafka_bootstrap, f"{topic_prefix}ping", value)) == value


def test_a_row_round_trips_through_the_database(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("CREATE TABLE ping (id uuid PRIMARY KEY, amount numeric(12, 2))")
        row_id = uuid.uuid4()
        conn.execute("INSERT INTO ping VALUES (%s, %s)", (row_id, "200.00"))
        stored = conn.execute("SELECT amount::text FROM ping WHERE id = %s", (row_id,)).fetchone()
    assert stored == ("200.00",)
