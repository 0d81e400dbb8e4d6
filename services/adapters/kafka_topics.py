"""The services' topics as the settings want them: created when missing, compared when they exist.

A topic is wanted with `LOYALTY_TOPIC_PARTITIONS` partitions, `LOYALTY_TOPIC_REPLICATION_FACTOR`
replicas, `min.insync.replicas` = `LOYALTY_TOPIC_MIN_INSYNC_REPLICAS` and `max.message.bytes`
large enough for the services' records. An existing topic is never changed (Kafka cannot lower
partitions, and raising the replication factor is a reassignment an operator plans): what
differs is reported, and the caller decides. `loyalty prepare` refuses; a service logs an error
and works with the topic as it is.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

from services.adapters.kafka import MAX_RECORD_BYTES, admin_client
from services.adapters.kafka_access import start_diagnosed
from services.settings import Settings

log = structlog.get_logger(__name__)

TOPIC_ALREADY_EXISTS = 36
NOT_YET_KNOWN = {3, 5}
"""UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE: a topic created a moment ago, which the
broker asked does not know yet."""
DESCRIBE_ATTEMPTS = 20
DESCRIBE_PAUSE_SECONDS = 0.25
NOT_AUTHORIZED = {29, 31}
"""TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED."""


class TopicsError(Exception):
    """The topics are not as the settings want them, or cannot be made so."""


class TopicsNotCreatedError(TopicsError):
    """Topics are missing, and the client's principal may not create them: that is
    `loyalty prepare`'s (docs/security.md)."""


@dataclass(frozen=True)
class TopicLayout:
    """How a topic is laid out: what `loyalty prepare` creates, what an existing one has."""

    partitions: int
    replication_factor: int
    min_insync_replicas: int | None
    """None: not known (the principal may not describe the topic's configuration)."""
    max_message_bytes: int | None

    def configs(self) -> dict[str, str]:
        return {"min.insync.replicas": str(self.min_insync_replicas),
                "max.message.bytes": str(self.max_message_bytes)}


SETTINGS_OF = {
    "partitions": ("partitions", "LOYALTY_TOPIC_PARTITIONS is"),
    "replication_factor": ("replication factor", "LOYALTY_TOPIC_REPLICATION_FACTOR is"),
    "min_insync_replicas": ("min.insync.replicas", "LOYALTY_TOPIC_MIN_INSYNC_REPLICAS is"),
    "max_message_bytes": ("max.message.bytes", "the services' records need"),
}
"""Each part of a layout: its name for an operator, and where the wanted value comes from."""


def wanted_layout(settings: Settings) -> TopicLayout:
    return TopicLayout(settings.topic_partitions, settings.topic_replication_factor,
                       settings.topic_min_insync_replicas, MAX_RECORD_BYTES)


def topic_names(settings: Settings) -> list[str]:
    """Every topic of the services (with LOYALTY_TOPICS_PER_PROGRAMME, each programme's)."""
    return [*settings.commands_topics(), settings.items_topic, *settings.results_topics(),
            *settings.events_topics(), settings.dead_letter_topic]


def differences(name: str, found: TopicLayout, wanted: TopicLayout) -> str | None:
    """How `found` differs from `wanted`, as one line naming the topic; None when it does not
    (a part that could not be read is not compared)."""
    parts = [f"{what} {getattr(found, field)} ({source} {getattr(wanted, field)})"
             for field, (what, source) in SETTINGS_OF.items()
             if getattr(found, field) is not None
             and getattr(found, field) != getattr(wanted, field)]
    return f"{name}: " + ", ".join(parts) if parts else None


async def ensure_topics(settings: Settings) -> list[str]:
    """Creates the topics that do not exist yet, as the settings want them; returns how each
    existing one differs from the settings (nothing: they all match). Raises
    `KafkaAccessError` when the brokers refuse the client, `TopicsError` when a topic cannot
    be created (`TopicsNotCreatedError` when the principal may not create it)."""
    admin = admin_client(settings)
    await start_diagnosed(admin, settings)
    try:
        wanted = wanted_layout(settings)
        names = topic_names(settings)
        existing = set(await admin.list_topics())
        created = await create(admin, [name for name in names if name not in existing], wanted)
        found = await layouts(admin, [name for name in names if name not in created])
        return [line for name, layout in found.items()
                if (line := differences(name, layout, wanted)) is not None]
    finally:
        await admin.close()


async def create(admin: AIOKafkaAdminClient, names: Sequence[str],
                 layout: TopicLayout) -> set[str]:
    """Creates the topics; returns those created here (not those created meanwhile by
    someone else)."""
    if not names:
        return set()
    response = await admin.create_topics([
        NewTopic(name, layout.partitions, layout.replication_factor,
                 topic_configs=layout.configs()) for name in names])
    created, failed = set(), []
    for name, code, *message in response.topic_errors:
        if code == 0:
            created.add(name)
        elif code != TOPIC_ALREADY_EXISTS:
            failed.append((name, code, message[0] if message else None))
    if any(code in NOT_AUTHORIZED for _, code, _ in failed):
        raise TopicsNotCreatedError(
            f"the topics {[name for name, *_ in failed]} do not exist, and this principal may "
            "not create them: `loyalty prepare` does, as a principal that may "
            "(docs/security.md)")
    if failed:
        raise TopicsError("topics not created: " + "; ".join(
            f"{name}: {for_code(code).__name__}: {message}" for name, code, message in failed))
    if created:
        log.info("topics created", topics=sorted(created), partitions=layout.partitions,
                 replication_factor=layout.replication_factor, **layout.configs())
    return created


async def layouts(admin: AIOKafkaAdminClient, names: Sequence[str]) -> dict[str, TopicLayout]:
    """The layout of each topic that the principal may describe."""
    if not names:
        return {}
    described = await described_topics(admin, names)
    configs = await topic_configs(admin, names)
    found = {}
    for name in names:
        topic = described.get(name)
        if topic is None or topic["error_code"]:
            log.warning("topic not described", topic=name,
                        error=for_code(topic["error_code"]).__name__ if topic else None)
            continue
        replicas = {len(partition["replicas"]) for partition in topic["partitions"]}
        config = configs.get(name, {})
        found[name] = TopicLayout(
            len(topic["partitions"]), min(replicas) if replicas else 0,
            _number(config.get("min.insync.replicas")), _number(config.get("max.message.bytes")))
    return found


async def described_topics(admin: AIOKafkaAdminClient,
                           names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The metadata of each topic, asked again for a while about a topic that the broker does
    not know yet (created a moment ago, by someone else)."""
    described: dict[str, dict[str, Any]] = {}
    unknown = list(names)
    for _ in range(DESCRIBE_ATTEMPTS):
        described |= {topic["topic"]: topic for topic in await admin.describe_topics(unknown)}
        unknown = [name for name in unknown if described[name]["error_code"] in NOT_YET_KNOWN]
        if not unknown:
            break
        await asyncio.sleep(DESCRIBE_PAUSE_SECONDS)
    return described


async def topic_configs(admin: AIOKafkaAdminClient,
                        names: Sequence[str]) -> dict[str, dict[str, str]]:
    """min.insync.replicas and max.message.bytes as they apply to each topic (its own value, or
    the broker's default); a topic whose configuration may not be described is left out."""
    keys: dict[str, Any] = dict.fromkeys(("min.insync.replicas", "max.message.bytes"))
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, keys) for name in names])
    configs = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"]:
                log.warning("topic configuration not described: min.insync.replicas and "
                            "max.message.bytes not checked", topic=resource["resource_name"],
                            error=for_code(resource["error_code"]).__name__)
                continue
            configs[resource["resource_name"]] = {
                entry["config_names"]: entry["config_value"]
                for entry in resource["config_entries"]}
    return configs


def _number(value: str | None) -> int | None:
    return int(value) if value is not None and value.lstrip("-").isdigit() else None
