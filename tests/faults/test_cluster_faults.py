"""`loyalty run` on the three-node cluster of `deploy/kafka.sh cluster`, its topics replicated
three times with `min.insync.replicas=2` (the production settings), while another client
(librdkafka) streams accruals: the broker that leads the most of the services' partitions is
SIGKILLed mid-stream and brought back. Nothing is lost, nothing is doubled, and every read
model equals the event store (`Ledger.check`: `loyalty projections verify` and the balances).
"""

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from events.customer import PointsAccrued
from services.domain import ids
from tests.faults.system import Ledger, Results, Sent, Stream, System, wait_until
from tests.support import brokers
from tests.support.pipeline import delete_topics_with_prefix
from tests.support.store import event_store

pytestmark = pytest.mark.brokers

TOPICS = ("commands", "items", "results", "events", "deadletter")
DURABLE = {"LOYALTY_TOPIC_REPLICATION_FACTOR": "3", "LOYALTY_TOPIC_MIN_INSYNC_REPLICAS": "2"}


@pytest.fixture(scope="module")
def cluster_system(kafka_cluster: str, module_postgres_dsn: str,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """`loyalty run` with every service on the cluster, on topics and a database of its own."""
    log_dir: Path = tmp_path_factory.mktemp("cluster")
    running = System(kafka_cluster, module_postgres_dsn, f"c{uuid.uuid4().hex[:8]}.", log_dir,
                     extra_env=DURABLE)
    running.start()
    try:
        yield running
    finally:
        running.stop()
        asyncio.run(delete_topics_with_prefix(kafka_cluster, running.prefix))


async def layout(system: System) -> dict[str, tuple[set[int], str, Counter[int]]]:
    """Each topic's replica counts, min.insync.replicas and how many partitions each node
    leads."""
    admin = AIOKafkaAdminClient(bootstrap_servers=system.bootstrap)
    await admin.start()
    try:
        names = [system.topic(name) for name in TOPICS]
        described = await admin.describe_topics(names)
        [configs] = await admin.describe_configs([
            ConfigResource(ConfigResourceType.TOPIC, name, {"min.insync.replicas": None})
            for name in names])
        min_isr = {resource["resource_name"]: resource["config_entries"][0]["config_value"]
                   for resource in configs.to_object()["resources"]}
        return {topic["topic"]: ({len(p["replicas"]) for p in topic["partitions"]},
                                 min_isr[topic["topic"]],
                                 Counter(p["leader"] for p in topic["partitions"]))
                for topic in described}
    finally:
        await admin.close()


def accepted(results: Results, sent: Sent) -> int:
    return len(results.accepted() & set(sent.items))


def accruals_stored(system: System, sent: Sent) -> Counter[str]:
    """How many times the event store holds an accrual of each guid sent."""
    stored: Counter[str] = Counter()
    with event_store(system.dsn) as store:
        for uniq_id in {uniq_id for uniq_id, _ in sent.items.values()}:
            events = store.events.get(ids.customer_id("default", uniq_id))
            stored.update(event.guid for event in events if isinstance(event, PointsAccrued))
    return stored


def test_a_broker_killed_mid_stream_loses_and_doubles_nothing(
    cluster_system: System, tmp_path: Path
) -> None:
    system, sent = cluster_system, Sent()
    topics = asyncio.run(layout(system))
    assert {name: (replicas, min_isr) for name, (replicas, min_isr, _) in topics.items()} == {
        system.topic(name): ({3}, "2") for name in TOPICS}
    leaders = sum((leads for _, _, leads in topics.values()), Counter[int]())
    victim, led = leaders.most_common(1)[0]
    results = Results(system)
    began = time.monotonic()
    try:
        with Stream(system, sent) as stream:
            wait_until(lambda: accepted(results, sent) > 40, 120, "the stream to flow")
            brokers.kill_node(victim)
            at_kill, sent_at_kill = accepted(results, sent), stream.count
            wait_until(lambda: accepted(results, sent) > at_kill + 100, 180,
                       f"accruals answered with node {victim} down")
            sent_while_down = stream.count - sent_at_kill
            brokers.start_node(victim)
            at_return = accepted(results, sent)
            wait_until(lambda: accepted(results, sent) > at_return + 40, 120,
                       f"accruals answered with node {victim} back")
        results.wait_for_every_answer(sent)
        Ledger(system, sent, results).check()
        stored = accruals_stored(system, sent)
        lost = [guid for guid in sent.items if stored[guid] == 0]
        doubled = [guid for guid, times in stored.items() if times > 1]
        print(f"\ncluster failover: node {victim} (leader of {led} partitions) killed; "
              f"{len(sent.commands)} commands, {len(sent.items)} accruals sent "
              f"({sent_while_down} commands while it was down); lost {len(lost)}, "
              f"doubled {len(doubled)}; {time.monotonic() - began:.0f} s")
        assert lost == []
        assert doubled == []
        assert set(stored) == set(sent.items)
        assert system.all_running()
    finally:
        results.close()
