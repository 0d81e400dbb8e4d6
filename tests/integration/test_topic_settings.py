"""The topics as the settings want them, on a real broker: created with the configured layout;
an existing topic that differs is described part by part; `loyalty prepare` refuses it (exit
78, nothing else done) while a service logs it as an error and works with it as it is."""

import asyncio
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.adapters.kafka_topics import TopicsError, ensure_topics, topic_names
from services.settings import Settings
from tests.support.pipeline import delete_topics_with_prefix

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXIT_REFUSED = 78


@pytest.fixture
def prefix(kafka_bootstrap: str) -> Iterator[str]:
    """A prefix of topics of the test's own, deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    yield prefix
    asyncio.run(delete_topics_with_prefix(kafka_bootstrap, prefix))


def environment(bootstrap: str, prefix: str, **settings: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LOYALTY_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "LOYALTY_COMMANDS_TOPIC": f"{prefix}commands", "LOYALTY_ITEMS_TOPIC": f"{prefix}items",
            "LOYALTY_RESULTS_TOPIC": f"{prefix}results", "LOYALTY_EVENTS_TOPIC": f"{prefix}events",
            "LOYALTY_DEAD_LETTER_TOPIC": f"{prefix}deadletter",
            "LOYALTY_INTAKE_GROUP": f"{prefix}intake", "LOYALTY_METRICS_PORT": "0",
            "LOYALTY_POSTGRES_OWNER_DSN": "postgresql://nobody@127.0.0.1:1/none",
            "LOYALTY_MASTER_KEY": secrets.token_hex(32),  # not the development one
            **{f"LOYALTY_{name.upper()}": value for name, value in settings.items()}}


def settings_of(bootstrap: str, prefix: str, **settings: int) -> Settings:
    return Settings(kafka_bootstrap_servers=bootstrap, commands_topic=f"{prefix}commands",
                    items_topic=f"{prefix}items", results_topic=f"{prefix}results",
                    events_topic=f"{prefix}events", dead_letter_topic=f"{prefix}deadletter",
                    **settings)


async def configs_of(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        keys = {"min.insync.replicas": None, "max.message.bytes": None}
        [described] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, keys) for name in names])
        topics = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(names)}
        return {r["resource_name"]: {"partitions": str(topics[r["resource_name"]]), **{
            e["config_names"]: e["config_value"] for e in r["config_entries"]}}
            for r in described.to_object()["resources"]}
    finally:
        await admin.close()


def test_topics_are_created_as_configured_and_then_found_equal(kafka_bootstrap: str,
                                                               prefix: str) -> None:
    settings = settings_of(kafka_bootstrap, prefix, topic_partitions=3)

    assert asyncio.run(ensure_topics(settings)) == []
    assert asyncio.run(ensure_topics(settings)) == []
    assert asyncio.run(configs_of(kafka_bootstrap, topic_names(settings))) == {
        name: {"partitions": "3", "min.insync.replicas": "1", "max.message.bytes": "4194304"}
        for name in topic_names(settings)}


def test_existing_topics_that_differ_are_described(kafka_bootstrap: str, prefix: str) -> None:
    asyncio.run(ensure_topics(settings_of(kafka_bootstrap, prefix, topic_partitions=3)))

    found = asyncio.run(ensure_topics(settings_of(
        kafka_bootstrap, prefix, topic_partitions=4, topic_replication_factor=2,
        topic_min_insync_replicas=2)))

    assert found == [f"{prefix}{name}: partitions 3 (LOYALTY_TOPIC_PARTITIONS is 4), "
                     "replication factor 1 (LOYALTY_TOPIC_REPLICATION_FACTOR is 2), "
                     "min.insync.replicas 1 (LOYALTY_TOPIC_MIN_INSYNC_REPLICAS is 2)"
                     for name in ("commands", "items", "results", "events", "deadletter")]


def test_a_topic_the_cluster_cannot_replicate_enough_is_an_error(kafka_bootstrap: str,
                                                                  prefix: str) -> None:
    with pytest.raises(TopicsError, match="InvalidReplicationFactor"):
        asyncio.run(ensure_topics(settings_of(kafka_bootstrap, prefix,
                                              topic_replication_factor=5)))


def test_prepare_refuses_a_differing_topic_saying_what_differs(kafka_bootstrap: str,
                                                                prefix: str) -> None:
    asyncio.run(ensure_topics(settings_of(kafka_bootstrap, prefix, topic_partitions=3)))
    env = environment(kafka_bootstrap, prefix, topic_partitions="6")

    done = subprocess.run([sys.executable, "-m", "services.cli", "prepare"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == EXIT_REFUSED, done.stderr[-2000:]
    assert "topics differ from the settings" in done.stderr
    assert f"{prefix}items: partitions 3 (LOYALTY_TOPIC_PARTITIONS is 6)" in done.stderr
    assert "Traceback" not in done.stderr  # and the (unreachable) database was not touched


def test_a_service_on_a_differing_topic_logs_it_and_works(kafka_bootstrap: str, prefix: str,
                                                          tmp_path: Path) -> None:
    asyncio.run(ensure_topics(settings_of(kafka_bootstrap, prefix, topic_partitions=3)))
    log = tmp_path / "intake.log"
    with open(log, "wb") as output:
        intake = subprocess.Popen([sys.executable, "-m", "services.cli", "intake"], cwd=ROOT,
                                  env=environment(kafka_bootstrap, prefix, topic_partitions="6"),
                                  stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while '"intake started"' not in log.read_text():
            assert intake.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        intake.terminate()
        intake.wait(timeout=30)

    said = log.read_text()
    assert '"topics differ from the settings; working with them as they are"' in said
    assert f"{prefix}commands: partitions 3 (LOYALTY_TOPIC_PARTITIONS is 6)" in said
