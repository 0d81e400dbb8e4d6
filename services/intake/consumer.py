"""Intake's Kafka side: commands in small batches off `loyalty.commands`, answered by
`CommandValidator`, and their offsets committed once the broker acknowledged everything they caused.

The group's committed offsets are intake's whole state: a batch is committed after its items,
results and dead letters were acknowledged, so a crash reads it again (the processor recognises
re-sent items by their guid) and nothing is acknowledged that was not published.

Nothing stops the consumer: a batch that cannot be read (corrupt, or expanding past
`LOYALTY_MAX_BATCH_BYTES`) is found by reading each partition alone; the unreadable records are
skipped as one range (`services.adapters.unreadable`), dead-lettered with their coordinates and
the reason, and the partition goes on. Such records get no stage-1 result: what they hold,
their commandId included, cannot be read.
"""

import asyncio
from collections.abc import Callable, Sequence

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from services.adapters.consumer_watch import watch_consumer
from services.adapters.dead_letters import DeadLetter, Origin, describe
from services.adapters.health import Watchdog
from services.adapters.unreadable import first_readable
from services.intake.worker import COMMANDS_PER_BATCH, CommandValidator, received
from services.settings import Settings

log = structlog.get_logger(__name__)

POLL_MS = 200


class CommandConsumer:
    """Reads commands and has `CommandValidator` answer them, a batch at a time."""

    def __init__(self, settings: Settings, validator: CommandValidator,
                 consumer: Callable[[], AIOKafkaConsumer], watchdog: Watchdog) -> None:
        self.settings = settings
        self.validator = validator
        self.consumer = consumer
        """Makes the consumer; called in the event loop, where aiokafka must create it."""
        self.watchdog = watchdog
        self.topics = settings.commands_topics()

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self.consumer()
        consumer.subscribe(self.topics)
        await consumer.start()
        watching = asyncio.create_task(watch_consumer(
            self.watchdog, self.settings, self.settings.intake_group,
            self.topics, consumer.assignment, restart_on_new_topic=True))
        try:
            while not stop.is_set():
                self.watchdog.turned()
                await self.consume_once(consumer)
        finally:
            watching.cancel()
            await consumer.stop()
            await self.validator.publisher.stop()

    async def consume_once(self, consumer: AIOKafkaConsumer) -> None:
        """One poll: a batch of commands answered and committed."""
        try:
            batches = await consumer.getmany(timeout_ms=POLL_MS, max_records=COMMANDS_PER_BATCH)
        except KafkaError as error:
            await self.unreadable(consumer, error)
            return
        await self.answer(consumer, [record for records in batches.values()
                                     for record in records])

    async def answer(self, consumer: AIOKafkaConsumer, records: Sequence[ConsumerRecord]) -> None:
        """Answers the records' commands, then commits past them."""
        if not records:
            return
        await self.validator.handle([
            received(record, self.settings.programme_of_topic(record.topic)) for record in records])
        last: dict[TopicPartition, int] = {}
        for record in records:
            last[TopicPartition(record.topic, record.partition)] = record.offset
        await self.commit(consumer, {tp: offset + 1 for tp, offset in last.items()})

    @staticmethod
    async def commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        """Commits; a commit lost to a rebalance reads those commands again (harmless)."""
        try:
            await consumer.commit({tp: OffsetAndMetadata(offset, "")
                                   for tp, offset in offsets.items()
                                   if tp in consumer.assignment()})
        except (CommitFailedError, KafkaError) as error:
            log.info("offsets not committed; the commands will be read again",
                     error=repr(error))

    async def unreadable(self, consumer: AIOKafkaConsumer, error: KafkaError) -> None:
        """A fetch that could not be read: each partition is read alone, and where records
        cannot be read, they are skipped and dead-lettered."""
        log.error("commands could not be read", error=describe(error))
        self.validator.metrics.error("unreadable")
        assigned = sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
        for tp in assigned:
            others = [other for other in assigned if other != tp]
            consumer.pause(*others)
            try:
                await self.read_alone(consumer, tp)
            finally:
                consumer.resume(*others)

    async def read_alone(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
        start = await consumer.position(tp)
        try:
            batch = await consumer.getmany(tp, timeout_ms=POLL_MS,
                                           max_records=COMMANDS_PER_BATCH)
        except KafkaError as error:
            await self.skip(consumer, tp, start, error)
            return
        await self.answer(consumer, batch.get(tp, []))

    async def skip(self, consumer: AIOKafkaConsumer, tp: TopicPartition, start: int,
                   error: KafkaError) -> None:
        """Skips the unreadable records from `start` on, dead-lettering them as one range."""
        end = (await consumer.end_offsets([tp]))[tp]
        resume = await first_readable(consumer, tp, start, end)
        origin = Origin(tp.topic, tp.partition, start)
        reason = f"{describe(error)} (offsets {start} to {resume - 1} skipped)"
        log.error("unreadable commands dead-lettered and skipped", origin=str(origin),
                  last_offset=resume - 1, error=describe(error))
        await self.validator.publisher.publish_dead_letter(DeadLetter(origin, "intake", reason))
        self.validator.metrics.dead_lettered(tp.topic)
        consumer.seek(tp, resume)
        await self.commit(consumer, {tp: resume})
