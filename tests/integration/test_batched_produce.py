"""Records produced a batch per partition reach the broker as the producer would place them
one by one: on the same partition, in order, none lost; one larger than a batch goes alone."""

import asyncio
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer

from services.adapters.kafka import Record, producer, send_batched
from services.adapters.kafka_topics import ensure_topics
from services.settings import Settings

pytestmark = pytest.mark.integration


async def produce_and_read(bootstrap: str, topic: str, records: list[Record],
                           ) -> tuple[dict[bytes, list[tuple[int, bytes]]], dict[bytes, int]]:
    settings = Settings(kafka_bootstrap_servers=bootstrap, commands_topic=topic,
                        items_topic=f"{topic}-items", results_topic=f"{topic}-results",
                        events_topic=f"{topic}-events", dead_letter_topic=f"{topic}-dead")
    await ensure_topics(settings)
    kafka = producer(settings)
    await kafka.start()
    try:
        await send_batched(kafka, records)
        one_by_one = {key: (await kafka.send_and_wait(topic, b"probe", key=key)).partition
                      for key in {key for _, key, _, _ in records if key is not None}}
    finally:
        await kafka.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: dict[bytes, list[tuple[int, bytes]]] = defaultdict(list)
    try:
        count = 0
        while count < len(records) + len(one_by_one):
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                for record in batch:
                    count += 1
                    if record.value != b"probe":
                        seen[record.key].append((record.partition, record.value))
    finally:
        await consumer.stop()
    return seen, one_by_one


def test_batched_records_land_where_and_in_the_order_the_producer_would_put_them(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}commands"
    keys = [f"customer-{n}".encode() for n in range(40)]
    records: list[Record] = [(topic, keys[n % 40], f"{n}".encode(), [("h", b"v")])
                             for n in range(2000)]
    records.append((topic, keys[0], b"x" * (2 * 1024 * 1024), []))  # larger than a batch

    seen, one_by_one = asyncio.run(produce_and_read(kafka_bootstrap, topic, records))

    for n, key in enumerate(keys):
        expected = [f"{m}".encode() for m in range(n, 2000, 40)]
        if n == 0:
            expected.append(b"x" * (2 * 1024 * 1024))
        assert [value for _, value in seen[key]] == expected
        assert {partition for partition, _ in seen[key]} == {one_by_one[key]}
    assert len({one_by_one[key] for key in keys}) > 1
