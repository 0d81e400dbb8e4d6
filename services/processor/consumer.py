"""The processor's Kafka side: read `loyalty.items` in batches, resume from stored positions.

A record is an envelope of a command's items that belong to its partition, or one item
(`decode`); the items of a batch's records are processed in order.

Where a partition is read from is the event store's business, never the broker's offsets: on
assignment, after the store was unavailable, and after a record could not be read, a partition
is paused until its position (for the topic's current incarnation) has been read from the
store and sought to. The group's offsets are committed only so that lag tools see progress.

Nothing stops the consumer: an item that cannot be applied is dead-lettered and answered with
`PROCESSING_FAILED` (see `services.processor.batches`); a record that cannot even be read (a
corrupt batch) is found by reading its partition one record at a time, dead-lettered with what
is known of it and skipped; an unavailable store or broker is waited for, with backoff, for as
long as it takes; a topic deleted and created again is noticed by its new topic id and read
from its beginning (re-sent items are recognised by their guid).
"""

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import (
    IllegalStateError,
    KafkaError,
    NoOffsetForPartitionError,
    OffsetOutOfRangeError,
)
from pydantic import ValidationError

from services.adapters.backoff import backoff
from services.adapters.consumer_watch import watch_consumer
from services.adapters.dead_letters import DeadLetter, Origin, describe
from services.adapters.event_store import is_unavailable
from services.adapters.health import Watchdog
from services.adapters.kafka import send_reliably
from services.adapters.metrics import ServiceMetrics
from services.adapters.positions import Position
from services.adapters.topic_ids import topic_ids
from services.contract.commands import ENVELOPE_VERSION, WorkItem, WorkItems
from services.contract.mapping import command_of
from services.contract.topics import ENVELOPE_HEADER, item_key
from services.processor.batches import ItemProcessor, ItemRecord, Poisoned, alone
from services.settings import Settings

log = structlog.get_logger(__name__)

STORE = "the event store"
INCARNATION_CHECK_SECONDS = 10.0
"""How often the processor asks the broker whether its topic was created anew (and refreshes
its metadata, so that a topic that came back is assigned again)."""


class SeekToStoredPositions(ConsumerRebalanceListener):
    """On assignment, pauses every new partition until the consumer sought it to the position
    stored with the events (the store may be unavailable during a rebalance)."""

    def __init__(self, items: "ItemConsumer", consumer: AIOKafkaConsumer) -> None:
        self.items = items
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.items.unresumed.difference_update(revoked)
        log.info("partitions revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.items.resume_from_store(self.consumer, assigned)
        log.info("partitions assigned", partitions=sorted(tp.partition for tp in assigned))


def decode(record: ConsumerRecord, topic_id: str | None) -> list[ItemRecord]:
    """The items of a record of `loyalty.items`: an envelope's (`WorkItems`, with the
    `ENVELOPE_HEADER`), or the one item of a record without it. What cannot be read is kept
    with item None: the whole record, or, when an envelope's items can still be told apart,
    each item that cannot."""
    origin = Origin.of(record)
    position = Position(record.topic, record.partition, record.offset, topic_id)
    if not any(name == ENVELOPE_HEADER for name, _ in origin.headers):
        return [read_item(partial(WorkItem.model_validate_json, record.value or b""),
                          position, origin)]
    try:
        works = WorkItems.model_validate_json(record.value or b"").items
    except UNREADABLE as error:
        return salvaged(origin, position, error)
    last = len(works) - 1
    return [read_item(work, replace(position, index=index), origin, final=index == last,
                      enveloped=True)
            for index, work in enumerate(works)]


UNREADABLE = (ValidationError, TypeError, ValueError)
"""What reading an item, or making its domain command, raises when it cannot be done."""


def read_item(source: WorkItem | Callable[[], WorkItem], position: Position, origin: Origin,
              *, final: bool = True, enveloped: bool = False) -> ItemRecord:
    """The item (read by `source` when not read yet) as its domain command, or kept with why
    it cannot be; an item of an envelope read whole (`enveloped`) keeps its work item, for a
    dead letter about it alone."""
    work = None
    try:
        work = source if isinstance(source, WorkItem) else source()
        return ItemRecord(command_of(work), position, origin, final=final,
                          work=work if enveloped else None)
    except UNREADABLE as error:
        return ItemRecord(None, position, origin, describe(error), final=final,
                          work=work if enveloped else None)


def _key_of(part: object, otherwise: bytes | None) -> bytes | None:
    """The key a version-1 record of this item would have, when it can be read."""
    if isinstance(part, dict):
        programme, uniq_id = part.get("programme"), part.get("uniqId")
        if isinstance(programme, str) and isinstance(uniq_id, str):
            return item_key(programme, uniq_id)
    return otherwise


def salvaged(origin: Origin, position: Position, error: Exception) -> list[ItemRecord]:
    """An envelope that cannot be read as a whole: each of its items that can still be told
    apart on its own (read, or kept with why not: each is answered or dead-lettered alone),
    else the record as one unreadable item."""
    try:
        document = json.loads(origin.value or b"")
    except (ValueError, UnicodeDecodeError):
        document = None
    parts = document.get("items") if isinstance(document, dict) and document.get(
        "version") == ENVELOPE_VERSION else None
    if not isinstance(parts, list) or not parts:
        return [ItemRecord(None, position, origin, describe(error))]
    return [read_item(partial(WorkItem.model_validate, part), replace(position, index=index),
                      alone(origin, _key_of(part, origin.key), json.dumps(part).encode()),
                      final=index == len(parts) - 1)
            for index, part in enumerate(parts)]


class ItemConsumer:
    """Consumes items in batches and has each batch processed in one transaction.

    Its Kafka clients are made by the factories it is given (the composition root's), in the
    event loop where aiokafka must create them: `consumer` reads the items in the processor's
    group with no reset policy of its own (`auto_offset_reset="none"`: positions come from the
    store) and refreshes its metadata every `INCARNATION_CHECK_SECONDS`; `dead_letters`
    produces the dead letters.
    """

    def __init__(self, settings: Settings, processor: ItemProcessor,
                 metrics: ServiceMetrics, watchdog: Watchdog,
                 consumer: Callable[[], AIOKafkaConsumer],
                 dead_letters: Callable[[], AIOKafkaProducer]) -> None:
        self.settings = settings
        self.processor = processor
        self.metrics = metrics
        self.watchdog = watchdog
        self.consumer = consumer
        self.dead_letters = dead_letters
        self.items_processed = 0
        self.unresumed: set[TopicPartition] = set()
        """Assigned partitions still to be sought to their stored position (paused)."""
        self.topic_ids: dict[str, str] = {}
        self.checked_at = 0.0
        self.failures = 0

    def close(self) -> None:
        """Closes the event store's connections."""
        self.processor.store.close()

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self.consumer()
        dead_letters = self.dead_letters()
        await self.check_incarnations(consumer)
        consumer.subscribe([self.settings.items_topic],
                           listener=SeekToStoredPositions(self, consumer))
        await consumer.start()
        await dead_letters.start()
        watching = asyncio.create_task(watch_consumer(
            self.watchdog, self.settings, self.settings.processor_group,
            [self.settings.items_topic], consumer.assignment, restart_on_new_topic=False))
        try:
            while not stop.is_set():
                self.watchdog.turned()
                await self.consume_once(consumer, dead_letters, stop)
        finally:
            watching.cancel()
            await consumer.stop()
            await dead_letters.stop()

    async def consume_once(self, consumer: AIOKafkaConsumer, dead_letters: AIOKafkaProducer,
                           stop: asyncio.Event) -> None:
        """One poll: resume what waits for its position, read a batch, process it."""
        if time.monotonic() - self.checked_at > INCARNATION_CHECK_SECONDS:
            await self.check_incarnations(consumer)
        if self.unresumed and not await self.resume_pending(consumer):
            await self.pause_after_failure(stop)
            return
        try:
            batches = await consumer.getmany(timeout_ms=self.settings.processor_poll_timeout_ms,
                                             max_records=self.settings.processor_batch_size)
        except OffsetOutOfRangeError as error:
            await self.out_of_range(consumer, error)
            return
        except NoOffsetForPartitionError as error:
            self.seek_just_assigned(consumer, error)
            return
        except KafkaError as error:
            await self.unreadable(consumer, dead_letters, error)
            return
        records = [item for records in batches.values() for record in records
                   for item in decode(record, self.topic_ids.get(record.topic))]
        if records and not await self.process(consumer, dead_letters, records):
            await self.pause_after_failure(stop)
            return
        self.failures = 0
        self.watchdog.available(STORE)
        await self.report_lag(consumer)
        if batches:
            await self.commit_for_monitoring(consumer)

    async def process(self, consumer: AIOKafkaConsumer, dead_letters: AIOKafkaProducer,
                      records: list[ItemRecord]) -> bool:
        """Processes the items, at most `processor_batch_size` to a transaction (a batch of
        envelopes holds many more), dead-lettering any that cannot be applied; False when the
        store became unavailable (the items' partitions then resume from the store)."""
        remaining = records
        size = self.settings.processor_batch_size
        try:
            while remaining:
                self.watchdog.turned()  # a poll of envelopes can take many transactions
                done, poisoned = await asyncio.to_thread(self.processor.process,
                                                         remaining[:size])
                self.count(done)
                if poisoned is None:
                    remaining = remaining[done:]
                    continue
                await self.dead_letter(dead_letters, poisoned)
                await asyncio.to_thread(self.processor.fail, poisoned)
                self.count(1, "failed")
                remaining = remaining[done + 1:]
        except Exception as error:
            if not is_unavailable(error):
                raise
            log.warning("event store unavailable; waiting for it", error=describe(error))
            self.watchdog.unavailable(STORE)
            self.metrics.error("store-unavailable")
            self.resume_from_store(consumer, {TopicPartition(r.position.topic,
                                                             r.position.partition)
                                              for r in remaining})
            return False
        return True

    def count(self, items: int, outcome: str = "handled") -> None:
        self.items_processed += items
        self.metrics.handled(self.settings.items_topic, items, outcome)

    async def dead_letter(self, dead_letters: AIOKafkaProducer, poisoned: Poisoned) -> None:
        origin = poisoned.record.origin
        log.error("item dead-lettered", origin=str(origin), error=poisoned.error,
                  position=str(poisoned.record.position), attempts=poisoned.attempts)
        letter = await asyncio.to_thread(self.processor.dead_letter, poisoned)
        record = letter.record(self.settings.dead_letter_topic)
        await send_reliably(dead_letters, record.topic, record.value, key=record.key,
                            headers=record.headers)
        self.metrics.dead_lettered(origin.topic)

    def resume_from_store(self, consumer: AIOKafkaConsumer,
                          partitions: Sequence[TopicPartition] | set[TopicPartition]) -> None:
        """Pauses the partitions until they were sought to their stored positions."""
        mine = [tp for tp in partitions if tp in consumer.assignment()]
        consumer.pause(*mine)
        self.unresumed.update(mine)

    async def resume_pending(self, consumer: AIOKafkaConsumer) -> bool:
        """Seeks every paused partition to its stored position and resumes it; False when
        the store cannot say now."""
        for tp in sorted(self.unresumed, key=lambda tp: (tp.topic, tp.partition)):
            try:
                offset = await asyncio.to_thread(self.processor.stored_offset, tp.topic,
                                                 tp.partition, self.topic_ids.get(tp.topic))
            except Exception as error:
                if not is_unavailable(error):
                    raise
                log.warning("stored positions unavailable", error=describe(error))
                self.watchdog.unavailable(STORE)
                return False
            if tp not in consumer.assignment():
                pass
            elif offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
            self.unresumed.discard(tp)
            consumer.resume(tp)
        return True

    async def pause_after_failure(self, stop: asyncio.Event) -> None:
        """Waits a little longer after every consecutive failure (stop ends the wait)."""
        self.failures += 1
        wait = backoff(self.failures - 1, first=0.5, longest=15.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)

    async def check_incarnations(self, consumer: AIOKafkaConsumer) -> None:
        """Learns the topic's id; a new one means the topic was created anew: every assigned
        partition of it then resumes from the store, under the new incarnation."""
        self.checked_at = time.monotonic()
        topic = self.settings.items_topic
        try:
            found = await topic_ids(self.settings, [topic])
        except Exception as error:
            log.info("topic id not read", error=repr(error))
            return
        if topic not in found or found[topic] == self.topic_ids.get(topic):
            return
        if topic in self.topic_ids:
            log.warning("the items topic was created anew; reading it from its beginning",
                        topic=topic, previous=self.topic_ids[topic], current=found[topic])
        self.topic_ids[topic] = found[topic]
        self.resume_from_store(consumer, [tp for tp in consumer.assignment()
                                          if tp.topic == topic])

    async def out_of_range(self, consumer: AIOKafkaConsumer,
                           error: OffsetOutOfRangeError) -> None:
        """A position beyond the partition's records: the topic was created anew (its id
        tells), or its records were deleted before they were read (retention: logged)."""
        await self.check_incarnations(consumer)
        lost: dict[Any, int] = error.args[0] if error.args else {}
        for tp, offset in lost.items():
            if tp in self.unresumed:
                continue
            log.error("records deleted before they were processed; reading on from the "
                      "oldest kept", partition=tp.partition, position=offset)
            self.metrics.error("records-lost-to-retention")
            await consumer.seek_to_beginning(tp)

    def seek_just_assigned(self, consumer: AIOKafkaConsumer,
                           error: NoOffsetForPartitionError) -> None:
        """A partition just assigned, which the fetcher tried to position before this consumer
        sought it (no offset is committed, and none is wanted: positions come from the store).
        Not a broken record: the partition is sought to its stored position, as on any
        assignment, and read in batches as before."""
        partitions = [arg for arg in error.args if isinstance(arg, TopicPartition)]
        log.info("partition not sought yet; seeking it to its stored position",
                 partitions=sorted(tp.partition for tp in partitions))
        self.resume_from_store(consumer, partitions or list(consumer.assignment()))

    async def unreadable(self, consumer: AIOKafkaConsumer, dead_letters: AIOKafkaProducer,
                         error: KafkaError) -> None:
        """A batch that cannot be read (corrupt, or compressed with a codec not installed):
        every partition resumes from the store, then each is read alone, one record at a
        time, up to the record that fails; that record is dead-lettered and skipped."""
        log.error("records could not be read", error=describe(error))
        self.metrics.error("unreadable")
        assigned = list(consumer.assignment())
        self.resume_from_store(consumer, assigned)
        if not await self.resume_pending(consumer):
            return
        for tp in assigned:
            await self.read_alone(consumer, dead_letters, tp)

    async def read_alone(self, consumer: AIOKafkaConsumer, dead_letters: AIOKafkaProducer,
                         tp: TopicPartition) -> None:
        others = [other for other in consumer.assignment() if other != tp]
        consumer.pause(*others)
        try:
            while True:
                try:
                    batch = await consumer.getmany(tp, timeout_ms=500, max_records=1)
                except KafkaError as error:
                    await self.skip_unreadable(consumer, dead_letters, tp, error)
                    return
                records = [item for record in batch.get(tp, [])
                           for item in decode(record, self.topic_ids.get(record.topic))]
                if not records or not await self.process(consumer, dead_letters, records):
                    return
        finally:
            consumer.resume(*[other for other in others if other not in self.unresumed])

    async def skip_unreadable(self, consumer: AIOKafkaConsumer, dead_letters: AIOKafkaProducer,
                              tp: TopicPartition, error: KafkaError) -> None:
        offset = await consumer.position(tp)
        position = Position(tp.topic, tp.partition, offset, self.topic_ids.get(tp.topic))
        origin = Origin(tp.topic, tp.partition, offset)
        log.error("unreadable record dead-lettered and skipped", origin=str(origin),
                  error=describe(error))
        record = DeadLetter(origin, "processor", describe(error)).record(
            self.settings.dead_letter_topic)
        await send_reliably(dead_letters, record.topic, record.value, key=record.key,
                            headers=record.headers)
        self.metrics.dead_lettered(tp.topic)
        await asyncio.to_thread(self.processor.skip, position)
        consumer.seek(tp, offset + 1)

    async def report_lag(self, consumer: AIOKafkaConsumer) -> None:
        """The lag of every partition read (also while idle, so that a backlog shows); a
        partition still to be sought to its stored position keeps its last figure."""
        assigned = consumer.assignment()
        lags = {}
        for tp in assigned:
            highwater = consumer.highwater(tp)
            if highwater is not None and tp not in self.unresumed:
                try:
                    lags[tp.partition] = highwater - await consumer.position(tp)
                except IllegalStateError:  # revoked meanwhile (a rebalance)
                    continue
        self.metrics.set_lags(self.settings.items_topic, lags,
                              assigned=[tp.partition for tp in consumer.assignment()])

    @staticmethod
    async def commit_for_monitoring(consumer: AIOKafkaConsumer) -> None:
        """Commits offsets so that lag tools see progress; never relied upon for resuming."""
        try:
            await consumer.commit()
        except KafkaError as error:
            log.info("offset commit skipped", reason=repr(error))
