"""The extra brokers of deploy/kafka.sh, through real clients: SASL_SSL with each mechanism (and
how a wrong password or an unknown CA fails), and a three-node cluster that loses no record and
doubles none while one node is SIGKILLed and brought back.

What aiokafka (0.14) does with bad credentials or an untrusted certificate: `start()` raises
`KafkaConnectionError("Unable to bootstrap from [...]")` at once (about 0.35 s for a wrong
password, whose rejection the broker delays by 100 ms; 0.01-0.1 s for an untrusted CA). The
cause is only in its log, at ERROR on the `aiokafka` logger: `[Error 58] SaslAuthenticationFailed:
Authentication failed ...` or `[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed`.
"""

import asyncio
import logging
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError

from tests.support import brokers

pytestmark = pytest.mark.brokers

FAILS_WITHIN = 5.0
"""Seconds within which a refused client must have failed (it does in well under one)."""
PARTITIONS = 6


async def round_trip(options: dict[str, Any], topic: str, value: bytes) -> bytes:
    """Produce `value` with acks=all, then read it back in a consumer group of its own."""
    producer = AIOKafkaProducer(acks="all", **options)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, group_id=f"g-{uuid.uuid4().hex[:8]}",
                                auto_offset_reset="earliest", **options)
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
        await consumer.commit()
        received: bytes = record.value
        return received
    finally:
        await consumer.stop()


async def delete_topic(options: dict[str, Any], topic: str) -> None:
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


async def refused(options: dict[str, Any]) -> tuple[BaseException, float]:
    """The exception a producer's start() raises with these options, and how long it took."""
    producer = AIOKafkaProducer(**options)
    began = time.monotonic()
    try:
        await producer.start()
    except Exception as error:
        return error, time.monotonic() - began
    finally:
        await producer.stop()
    raise AssertionError("the broker accepted the client")


@pytest.mark.parametrize("mechanism", brokers.SECURE_MECHANISMS)
def test_a_record_round_trips_through_sasl_ssl(secure_kafka: str, mechanism: str) -> None:
    options = brokers.secure_kafka_options(mechanism)
    topic, value = f"t{uuid.uuid4().hex[:10]}.sasl", uuid.uuid4().bytes
    try:
        assert asyncio.run(round_trip(options, topic, value)) == value
    finally:
        asyncio.run(delete_topic(options, topic))


@pytest.mark.parametrize("mechanism", brokers.SECURE_MECHANISMS)
def test_a_wrong_password_is_refused_at_once(secure_kafka: str, mechanism: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    options = brokers.secure_kafka_options(mechanism, password="not-the-password")
    with caplog.at_level(logging.ERROR, logger="aiokafka"):
        error, seconds = asyncio.run(refused(options))

    assert isinstance(error, KafkaConnectionError)
    assert "Unable to bootstrap" in str(error)
    assert seconds < FAILS_WITHIN
    assert "SaslAuthenticationFailed" in caplog.text
    assert "Authentication failed" in caplog.text


def test_a_broker_certificate_from_an_unknown_ca_is_refused(
    secure_kafka: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=Some other CA", "-keyout", str(tmp_path / "other-ca.key"),
                    "-out", str(other_ca)], check=True, capture_output=True)
    options = brokers.secure_kafka_options(cafile=other_ca)
    with caplog.at_level(logging.ERROR, logger="aiokafka"):
        error, seconds = asyncio.run(refused(options))

    assert isinstance(error, KafkaConnectionError)
    assert seconds < FAILS_WITHIN
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


def test_the_secure_environment_names_the_broker_and_its_ca(secure_kafka: str) -> None:
    settings = brokers.secure_environment()
    assert settings["LOYALTY_KAFKA_BOOTSTRAP_SERVERS"] == secure_kafka
    assert settings["LOYALTY_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert Path(settings["LOYALTY_KAFKA_SSL_CAFILE"]).read_text().startswith(
        "-----BEGIN CERTIFICATE-----")


class Acknowledged:
    """The ids the cluster acknowledged, each with the phase of the test it was acknowledged in;
    lets the test wait for "N more acknowledgements" without polling."""

    def __init__(self) -> None:
        self.ids: list[tuple[str, str]] = []
        self.phase = "all up"
        self.failure: BaseException | None = None
        self.changed = asyncio.Condition()

    async def add(self, ids: list[str]) -> None:
        async with self.changed:
            self.ids.extend((self.phase, one) for one in ids)
            self.changed.notify_all()

    async def fail(self, error: BaseException) -> None:
        async with self.changed:
            self.failure = error
            self.changed.notify_all()

    async def more(self, count: int, within: float = 90) -> None:
        """Waits until `count` more records than now have been acknowledged (or a send failed:
        then raises its error)."""
        target = len(self.ids) + count
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(
                lambda: len(self.ids) >= target or self.failure is not None), within)
        if self.failure is not None:
            raise AssertionError("a record was not acknowledged") from self.failure

    def count(self, phase: str) -> int:
        return sum(1 for seen, _ in self.ids if seen == phase)


async def produce_until(stop: asyncio.Event, producer: AIOKafkaProducer, topic: str,
                        acknowledged: Acknowledged) -> None:
    """Produces records with unique ids, 20 in flight at a time, until `stop` is set; a send
    that is not acknowledged in the end is reported to `acknowledged`."""
    n = 0
    try:
        while not stop.is_set():
            ids = [f"{n + i:08d}" for i in range(20)]
            n += len(ids)
            sent = [await producer.send(topic, one.encode(), key=one.encode()) for one in ids]
            await asyncio.gather(*sent)
            await acknowledged.add(ids)
    except Exception as error:
        await acknowledged.fail(error)
        raise


async def read_everything(bootstrap: str, topic: str, partition_count: int) -> Counter[str]:
    """Every record of `topic`, from the first offset to the last, counted by id."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(partition_count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        seen: Counter[str] = Counter()
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(*partitions, timeout_ms=1000)
            for records in batches.values():
                seen.update(record.value.decode() for record in records)
        return seen
    finally:
        await consumer.stop()


async def in_sync_replicas(admin: AIOKafkaAdminClient, topic: str) -> list[set[int]]:
    [described] = await admin.describe_topics([topic])
    return [set(partition["isr"]) for partition in described["partitions"]]


async def kill_and_restart_node_2_while_producing(bootstrap: str, topic: str
                                                   ) -> tuple[Acknowledged, Counter[str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=5, request_timeout_ms=60000)
    acknowledged, stop = Acknowledged(), asyncio.Event()
    node_2_down = False
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=3,
                                            topic_configs={"min.insync.replicas": "2"})])
        await producer.start()
        producing = asyncio.create_task(produce_until(stop, producer, topic, acknowledged))
        await acknowledged.more(500)

        await asyncio.to_thread(brokers.kill_node, 2)
        node_2_down, acknowledged.phase = True, "node 2 down"
        await acknowledged.more(1000)  # acknowledged by nodes 1 and 3 alone (min ISR 2)

        await asyncio.to_thread(brokers.start_node, 2)
        node_2_down, acknowledged.phase = False, "node 2 back"
        await acknowledged.more(500)

        stop.set()
        await producing
        assert all(isr == {1, 2, 3} for isr in await in_sync_replicas(admin, topic))
        return acknowledged, await read_everything(bootstrap, topic, PARTITIONS)
    finally:
        stop.set()
        await producer.stop()
        if node_2_down:  # the test failed half-way: leave the cluster whole for the next one
            await asyncio.to_thread(brokers.start_node, 2)
        await admin.delete_topics([topic])
        await admin.close()


def test_the_cluster_loses_and_doubles_nothing_when_a_node_is_killed(kafka_cluster: str) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.failover"

    acknowledged, seen = asyncio.run(kill_and_restart_node_2_while_producing(kafka_cluster,
                                                                             topic))

    sent = {one for _, one in acknowledged.ids}
    assert acknowledged.count("node 2 down") >= 1000
    assert len(sent) == len(acknowledged.ids)  # every id was produced once
    assert sent - set(seen) == set()  # lost
    assert {one for one, times in seen.items() if times > 1} == set()  # doubled
    assert set(seen) == sent  # nothing else
