"""Follows the event store and publishes what it stored: results and the customers' events.

- every item outcome event (`events.outcomes.ANSWERS`) becomes its stage-2 result on the
  results topic, keyed by guid;
- every event of the customer's public contract (`events.PUBLISHED`) goes to the events topic
  in its CloudEvents form (`events.published`), keyed by programme and uniqId so that one
  customer's events keep their order.

Records are produced in notification order, a batch at a time; the relay's position is stored
after the broker acknowledged the whole batch. A crash in between publishes the batch again:
identical results, events with the same ids.
"""

import asyncio
import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import structlog
from aiokafka import AIOKafkaProducer
from eventsourcing.persistence import Tracking

from events import PUBLISHED
from events.customer import CustomerCreated
from events.outcomes import ANSWERS
from events.published import cloud_event
from services.adapters.event_store import EventStore
from services.adapters.following import Followed, follow, topics_of
from services.contract.mapping import result_of
from services.contract.topics import item_key
from services.domain.outcomes import answer_of
from services.settings import Settings

log = structlog.get_logger(__name__)

Record = tuple[str, bytes, bytes]
"""(topic, key, value) of one record to produce."""


class CustomerDirectory:
    """Whose events these are: customer id -> (programme, uniqId), learnt from each customer's
    `CustomerCreated`, kept for the most recent customers."""

    def __init__(self, store: EventStore, size: int = 100_000) -> None:
        self.store = store
        self.size = size
        self.known: OrderedDict[UUID, tuple[str, str]] = OrderedDict()

    def learn(self, event: CustomerCreated) -> None:
        self._keep(event.originator_id, (event.programme, event.uniq_id))

    def identity(self, customer_id: UUID) -> tuple[str, str]:
        """(programme, uniqId) of the customer; read from its first event when not known."""
        found = self.known.get(customer_id)
        if found is None:
            (stored,) = self.store.recorder.select_events(customer_id, lte=1)
            created = self.store.mapper.to_domain_event(stored)
            assert isinstance(created, CustomerCreated), created
            found = (created.programme, created.uniq_id)
            self._keep(customer_id, found)
        return found

    def _keep(self, customer_id: UUID, identity: tuple[str, str]) -> None:
        self.known[customer_id] = identity
        self.known.move_to_end(customer_id)
        while len(self.known) > self.size:
            self.known.popitem(last=False)


class Relay:
    """Publishes the results and customer events stored after its position, in order."""

    def __init__(self, settings: Settings, store: EventStore) -> None:
        self.settings = settings
        self.store = store
        self.directory = CustomerDirectory(store)
        self.tracking_name = f"relay:{settings.results_topic}"
        self.topics = topics_of((*ANSWERS, *PUBLISHED))
        self.published = 0

    def position(self) -> int:
        """The last notification id whose records the broker acknowledged."""
        return self.store.recorder.max_tracking_id(self.tracking_name) or 0

    def records(self, batch: Sequence[Followed]) -> list[Record]:
        """The records that publish a batch of stored events, in the batch's order."""
        return [record for event, _ in batch if (record := self.record(event)) is not None]

    def record(self, event: Any) -> Record | None:
        if isinstance(event, ANSWERS):
            result = result_of(answer_of(event))
            return self.settings.results_topic, result.guid.encode(), result.to_json()
        if isinstance(event, CustomerCreated):
            self.directory.learn(event)
        if isinstance(event, PUBLISHED):
            programme, uniq_id = self.directory.identity(event.originator_id)
            published = cloud_event(event, programme=programme, uniq_id=uniq_id,
                                    source=self.settings.events_source)
            value = json.dumps(published, ensure_ascii=False).encode()
            return self.settings.events_topic, item_key(programme, uniq_id), value
        return None

    async def run(self, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        """Publishes batch after batch until `stop` is set."""
        async for batch in follow(self.store, self.position, self.topics, stop):
            records = await asyncio.to_thread(self.records, batch)
            sent = [await producer.send(topic, value, key=key) for topic, key, value in records]
            await asyncio.gather(*sent)
            last = batch[-1][1].notification_id
            await asyncio.to_thread(self.store.recorder.insert_tracking,
                                    Tracking(self.tracking_name, last))
            self.published += len(records)
