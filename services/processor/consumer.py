"""The processor's Kafka side: read `loyalty.items` in batches, resume from stored positions."""

import asyncio
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from services.adapters.positions import Position
from services.contract.commands import WorkItem
from services.contract.mapping import command_of
from services.processor.batches import ItemProcessor, ItemRecord
from services.settings import Settings

log = structlog.get_logger(__name__)


class ResumeFromStore(ConsumerRebalanceListener):
    """On assignment, seeks every partition to the position stored with the events."""

    def __init__(self, consumer: AIOKafkaConsumer, processor: ItemProcessor) -> None:
        self.consumer = consumer
        self.processor = processor

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        log.info("partitions revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        for tp in assigned:
            offset = await asyncio.to_thread(self.processor.stored_offset, tp.topic, tp.partition)
            if offset is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
        log.info("partitions assigned", partitions=sorted(tp.partition for tp in assigned))


def decode(record: ConsumerRecord) -> ItemRecord:
    """A record of `loyalty.items` as an item; an undecodable one is kept with item None."""
    position = Position(record.topic, record.partition, record.offset)
    try:
        return ItemRecord(command_of(WorkItem.model_validate_json(record.value)), position)
    except (ValidationError, TypeError, ValueError):
        log.error("undecodable item record skipped", position=str(position), value=record.value)
        return ItemRecord(None, position)


class ItemConsumer:
    """Consumes items in batches and records each partition's batch in one transaction."""

    def __init__(self, settings: Settings, processor: ItemProcessor) -> None:
        self.settings = settings
        self.processor = processor
        self.items_processed = 0

    def close(self) -> None:
        """Closes the event store's connections."""
        self.processor.store.close()

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.settings.processor_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        consumer.subscribe([self.settings.items_topic],
                           listener=ResumeFromStore(consumer, self.processor))
        await consumer.start()
        try:
            while not stop.is_set():
                await self.consume_once(consumer)
        finally:
            await consumer.stop()

    async def consume_once(self, consumer: AIOKafkaConsumer) -> None:
        batches = await consumer.getmany(
            timeout_ms=self.settings.processor_poll_timeout_ms,
            max_records=self.settings.processor_batch_size,
        )
        items = [decode(record) for records in batches.values() for record in records]
        if items:
            await asyncio.to_thread(self.processor.process_batch, items)
            self.items_processed += len(items)
        if batches:
            await self.commit_for_monitoring(consumer)

    @staticmethod
    async def commit_for_monitoring(consumer: AIOKafkaConsumer) -> None:
        """Commits offsets so that lag tools see progress; never relied upon for resuming."""
        try:
            await consumer.commit()
        except KafkaError as error:
            log.info("offset commit skipped", reason=repr(error))
