"""Follows the event store and publishes what it stored: results and the customers' events.

- every item outcome event (`events.outcomes.ANSWERS`) becomes its stage-2 result on the
  results topic, keyed by guid;
- every event of the customer's public contract (`events.PUBLISHED`) goes to the events topic
  in its CloudEvents form (`events.published`), keyed by programme and uniqId so that one
  customer's events keep their order.

An outcome or a customer event whose stored state is of its class's current version is
published straight from its stored JSON (`CompiledJSONTranscoder.plain`: no decimals or
date-times built, the same published bytes); an older version is loaded through its upcasters
first.

A stage-2 result goes with the instant its item's command was produced (`ItemProcessed`'s
`command_timestamp`), so that the relay, once the broker acknowledged the result, observes the
item's end-to-end latency (`loyalty_item_latency_seconds`).

The relay follows the read models, not the store's head: it publishes the events up to the read
models' position (which their writer moves only over events that can no longer change,
`services.adapters.following`), so an organiser who reads what a result reports finds it, and
the relay never passes over an event either. Records are produced in notification order, a
batch at a time; the relay's position is stored after the broker acknowledged the whole batch.
A crash in between publishes the batch again: identical results, events with the same ids. A
stored event the relay cannot decode goes to the dead-letter topic (its origin: the event
store's table and notification id) and the relay goes on; a broker or a store that is away is
waited for.
"""

import json
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import orjson
import structlog
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from events import PUBLISHED
from events.base import ENVELOPE, data_of
from events.customer import CustomerCreated
from events.outcomes import ANSWERS, ItemProcessed
from events.published import published_form
from services.adapters.dead_letters import DeadLetter, Origin, describe
from services.adapters.event_store import EventStore, is_unavailable
from services.adapters.eventsourcing_internals import CompiledJSONTranscoder
from services.adapters.following import topics_of
from services.adapters.kafka import Record
from services.adapters.metrics import ServiceMetrics
from services.adapters.personal_data import domain_events, omit_state
from services.contract.mapping import result_json, result_of
from services.contract.topics import item_key
from services.domain.outcomes import answer_of
from services.settings import Settings

log = structlog.get_logger(__name__)

PUBLISHED_CLASSES = frozenset(PUBLISHED)
ANSWER_CLASSES = frozenset(ANSWERS)


class Publication(NamedTuple):
    """The record that publishes a stored event."""

    record: Record
    commanded_at: float | None = None
    """A stage-2 result's: when its item's command was produced (Unix time), if known."""


class CustomerDirectory:
    """Whose events these are: customer id -> (programme, uniqId), learnt from each customer's
    `CustomerCreated`, kept for the most recent customers."""

    def __init__(self, store: EventStore, size: int = 100_000) -> None:
        self.store = store
        self.size = size
        self.known: OrderedDict[UUID, tuple[str, str]] = OrderedDict()

    def learn(self, customer_id: UUID, programme: str, uniq_id: str) -> None:
        """Learns a customer's identity from its `CustomerCreated`."""
        self._keep(customer_id, (programme, uniq_id))

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
    """The records that publish stored events: results and the customers' events."""

    def __init__(self, settings: Settings, store: EventStore, metrics: ServiceMetrics) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.directory = CustomerDirectory(store)
        self.tracking_name = f"relay:{settings.results_topic}"
        self.programmes: OrderedDict[UUID, str] = OrderedDict()
        """Outcome id -> its programme, for the most recent outcomes."""
        self.topics = topics_of((*ANSWERS, *PUBLISHED))
        transcoder = store.mapper.transcoder
        self.plain = transcoder.plain if isinstance(transcoder, CompiledJSONTranscoder) else None

    def position(self) -> int:
        """The last notification id whose records the broker acknowledged."""
        return self.store.recorder.max_tracking_id(self.tracking_name) or 0

    def records(self, batch: Sequence[Notification]
                ) -> list[tuple[Notification, Publication]]:
        """The records that publish a batch of stored events, in the batch's order, each with
        the stored event it publishes. The data keys are read afresh for every batch, so that
        nothing personal is published with the key of a customer erased meanwhile."""
        self.store.keyring.clear()
        made: dict[int, Publication | None] = {}
        loading: list[Notification] = []
        for notification in batch:
            try:
                made[notification.id] = self.published_from_state(notification)
            except Exception as error:
                made[notification.id] = self.failed(notification, error)
            if made[notification.id] is None:
                loading.append(notification)
        loaded = domain_events(self.store.mapper, loading)  # the keys read in one query
        for notification, event in zip(loading, loaded, strict=True):
            try:
                if isinstance(event, Exception):
                    raise event
                made[notification.id] = self.publication(event)
            except Exception as error:
                made[notification.id] = self.failed(notification, error)
        return [(notification, publication) for notification in batch
                if (publication := made[notification.id]) is not None]

    def failed(self, notification: Notification, error: Exception) -> Publication:
        """The dead letter of a stored event that cannot be published (a store that is away
        is waited for: that error goes on)."""
        if is_unavailable(error):
            raise error
        log.error("stored event dead-lettered", notification_id=notification.id,
                  error=describe(error))
        return Publication(self.dead_letter(notification, error))

    def answered(self, published: Iterable[Publication]) -> None:
        """Observes the end-to-end latency of every stage-2 result just acknowledged."""
        now = time.time()
        for publication in published:
            if publication.commanded_at is not None:
                self.metrics.item_answered(now - publication.commanded_at)

    def published_from_state(self, notification: Notification) -> Publication | None:
        """The record of an outcome or a customer event of its class's current version, made
        from the stored JSON as it is; None for anything else."""
        event_class = resolve_topic(notification.topic)
        answers = event_class in ANSWER_CLASSES
        if self.plain is None or not (answers or event_class in PUBLISHED_CLASSES):
            return None
        state = self.plain(notification.state)
        if state.pop("class_version", 1) != getattr(event_class, "class_version", 1):
            return None
        if answers:
            if state.get("messages"):
                return None  # texts sealed with the customer's key: the mapper opens them
            programme = state.get("programme") or self.outcome_programme(
                UUID(str(notification.originator_id)))
            commanded = state.get("command_timestamp")
            return self.result(state["guid"], result_json(state), programme,
                               None if commanded is None else datetime.fromisoformat(commanded))
        customer_id = UUID(str(notification.originator_id))
        if event_class is CustomerCreated:
            self.directory.learn(customer_id, state["programme"], state["uniq_id"])
        personal = getattr(event_class, "personal", ())
        if personal and self.settings.events_personal_data == "include":
            return None  # sealed in the stored JSON: the mapper opens them
        data = {name: value for name, value in state.items()
                if name not in ENVELOPE and name not in personal}
        return Publication(self.event_record(event_class, customer_id,
                                             notification.originator_version,
                                             state["timestamp"], data))

    def publication(self, event: Any) -> Publication | None:
        """The record that publishes a loaded event (None: not published)."""
        if isinstance(event, ANSWERS):
            result = result_of(answer_of(event))
            programme = getattr(event, "programme", None) or self.outcome_programme(
                event.originator_id)
            return self.result(result.guid, result.to_json(), programme,
                               event.command_timestamp if isinstance(event, ItemProcessed)
                               else None)
        if isinstance(event, CustomerCreated):
            self.directory.learn(event.originator_id, event.programme, event.uniq_id)
        if isinstance(event, PUBLISHED):
            data = data_of(event)
            if self.settings.events_personal_data == "omit":
                data = omit_state(data, getattr(type(event), "personal", ()))
            return Publication(self.event_record(
                type(event), event.originator_id, event.originator_version,
                event.timestamp.isoformat(), data))
        return None

    def outcome_programme(self, outcome_id: UUID) -> str | None:
        """The programme of an item's outcome (its first event names it), when results go to
        each programme's own topic; None otherwise (no need to look)."""
        if not self.settings.topics_per_programme:
            return None
        found = self.programmes.get(outcome_id)
        if found is None:
            (stored,) = self.store.recorder.select_events(outcome_id, lte=1)
            processed = self.store.mapper.to_domain_event(stored)
            assert isinstance(processed, ItemProcessed), processed
            found = processed.programme
            self.programmes[outcome_id] = found
            while len(self.programmes) > 100_000:
                self.programmes.popitem(last=False)
        return found

    def result(self, guid: str, result: bytes, programme: str | None,
               commanded: datetime | None) -> Publication:
        """A stage-2 result's record, to the results topic of its programme (when each has its
        own), with when its item's command was produced."""
        return Publication(Record(self.settings.results_topic_of(programme), guid.encode(), result),
                           None if commanded is None else commanded.timestamp())

    def event_record(self, event_class: type, customer_id: UUID, version: int, time: str,
                     data: dict[str, Any]) -> Record:
        """The record of a customer's event in its published form (`events.published`)."""
        programme, uniq_id = self.directory.identity(customer_id)
        published = published_form(event_class, customer_id, version, time, data,
                                   programme=programme, uniq_id=uniq_id,
                                   source=self.settings.events_source)
        return Record(self.settings.events_topic_of(programme), item_key(programme, uniq_id),
                      encoded(published))

    def dead_letter(self, notification: Notification, error: BaseException) -> Record:
        """The dead letter of a stored event that cannot be published (its origin: the event
        store's table and notification id)."""
        origin = Origin(topic=f"event-store:{self.store.name}", partition=0,
                        offset=notification.id, key=notification.topic.encode(),
                        value=notification.state)
        self.metrics.dead_lettered(origin.topic)
        return DeadLetter(origin, "relay", describe(error)).record(self.settings.dead_letter_topic)


ONLY_JSON = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
"""Dates and dataclasses are not JSON: orjson hands them on (to the standard library, which
refuses them as it always did) instead of writing them in a form of its own."""


def encoded(published: dict[str, Any]) -> bytes:
    """A published event as compact UTF-8 JSON, like the results (orjson: 0.5 us for an
    accrual against 6.6 with the standard library). What orjson does not write (an integer
    beyond 64 bits, anything but JSON's own types) goes through the standard library instead:
    published all the same, or refused (then dead-lettered) as before."""
    try:
        return orjson.dumps(published, option=ONLY_JSON)
    except orjson.JSONEncodeError:
        return json.dumps(published, ensure_ascii=False, separators=(",", ":")).encode()
