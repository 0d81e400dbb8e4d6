"""Watching a Kafka consumer from outside: is it keeping up with its partitions?

Every few seconds: the group's committed offsets for the partitions this instance is assigned,
against their end offsets, and the topic's id. The consumer is behind when a partition's end is
not where its committed offset is (either way: records wait, or the log was cut below it), and
it makes progress when a committed offset moves; its `Watchdog` draws the verdict (stuck: behind
and not moving). A topic whose id changed was deleted and created again: a consumer that does
not handle that itself (intake: its committed offsets belong to the old topic) is ended at once,
to be started again on the new topic.
"""

import asyncio
from collections.abc import Callable, Iterable

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.adapters.health import Watchdog
from services.adapters.kafka import admin_client, client_options
from services.adapters.topic_ids import topic_ids
from services.settings import Settings

log = structlog.get_logger(__name__)

WATCH_SECONDS = 5.0
BROKER = "the broker"


async def watch_consumer(watchdog: Watchdog, settings: Settings, group: str, topics: list[str],
                         assigned: Callable[[], Iterable[TopicPartition]],
                         restart_on_new_topic: bool, every: float = WATCH_SECONDS) -> None:
    """Reports the consumer's progress to its watchdog every `every` seconds, for ever."""
    admin = admin_client(settings)
    reader = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    started = False
    first_ids: dict[str, str] = {}
    try:
        while True:
            try:
                if not started:
                    await admin.start()
                    await reader.start()
                    started = True
                await _incarnations(watchdog, settings, topics, first_ids,
                                    restart_on_new_topic)
                await _progress(watchdog, admin, reader, group, assigned)
                watchdog.available(BROKER)
                watchdog.check("kafka", None)
            except Exception as error:
                watchdog.unavailable(BROKER)
                watchdog.check("kafka", f"the broker cannot tell the consumer's progress: "
                               f"{error!r}")
            await asyncio.sleep(every)
    finally:
        if started:
            await reader.stop()
            await admin.close()


async def _incarnations(watchdog: Watchdog, settings: Settings, topics: list[str],
                        first_ids: dict[str, str], restart_on_new_topic: bool) -> None:
    """Remembers each topic's first id; one that changed says the topic was created anew."""
    for topic, current in (await topic_ids(settings, topics)).items():
        first = first_ids.setdefault(topic, current)
        if current != first and restart_on_new_topic:
            watchdog.force(f"the topic {topic} was deleted and created again")


async def _progress(watchdog: Watchdog, admin: AIOKafkaAdminClient, reader: AIOKafkaConsumer,
                    group: str, assigned: Callable[[], Iterable[TopicPartition]]) -> None:
    partitions = sorted(assigned(), key=lambda tp: (tp.topic, tp.partition))
    watchdog.check("partitions", None if partitions else "no partition assigned")
    if not partitions:
        watchdog.progress((), False)
        return
    committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    ends = await reader.end_offsets(partitions)
    offsets = []
    behind = False
    for tp in partitions:
        meta = committed.get(tp)
        offset = meta.offset if meta is not None and meta.offset >= 0 else None
        offsets.append((tp.topic, tp.partition, offset))
        behind |= ends[tp] != (offset or 0) if offset is not None else ends[tp] > 0
    watchdog.progress(tuple(offsets), behind)
