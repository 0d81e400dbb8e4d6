"""Kafka plumbing shared by the services: topic creation and producer settings."""

import contextlib
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.settings import Settings

log = structlog.get_logger(__name__)

MAX_RECORD_BYTES = 4 * 1024 * 1024
"""Above the command limit, so that an oversized command reaches intake and gets its error."""


async def ensure_topics(settings: Settings) -> None:
    """Creates the commands, items, results and events topics when they do not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [settings.commands_topic, settings.items_topic, settings.results_topic,
                  settings.events_topic]
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
