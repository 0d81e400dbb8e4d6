"""The event store: eventsourcing's application that stores the domain's aggregates.

In memory (POPO) by default, as the unit tests use it; on PostgreSQL with the environment of
`services.adapters.postgres.event_store_env(settings)`, as every service uses it.
"""

from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

import psycopg
import structlog
from eventsourcing import persistence
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    ProcessRecorder,
    Recording,
    StoredEvent,
    Transcoder,
    UUIDAsHex,
)
from eventsourcing.popo import POPOProcessRecorder
from eventsourcing.utils import EnvType
from psycopg_pool import PoolTimeout

import services.domain  # the aggregates, and the topics of earlier layouts
from services.adapters.eventsourcing_internals import CompiledJSONTranscoder, KeysHook
from services.adapters.personal_data import KeyRing, MasterKeys, MemoryKeys, SealingMapper
from services.adapters.snapshots import SnapshotStore, register_state_transcodings, snapshot_of
from services.settings import DEV_MASTER_KEY

log = structlog.get_logger(__name__)


def register_transcodings(transcoder: JSONTranscoder) -> None:
    """Registers every type the events carry beyond JSON's own: Decimal (amounts, balances),
    aware datetime (eventDate, showTill; the offset is kept) and UUID; and what snapshots of
    customers carry besides (`services.adapters.snapshots`)."""
    transcoder.register(UUIDAsHex())
    transcoder.register(DecimalAsStr())
    transcoder.register(DatetimeAsISO())
    register_state_transcodings(transcoder)


class KeyedPOPORecorder(POPOProcessRecorder):
    """The in-memory process recorder, storing the data keys of what it stores as the
    PostgreSQL one does (in memory, no transaction to share)."""

    keys: KeysHook | None = None

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        if self.keys is not None:
            self.keys.store(None, stored_events)
        inserted = super().insert_events(stored_events, **kwargs)
        if self.keys is not None:
            self.keys.stored(stored_events)
        return inserted


IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
"""The environment of an event store in memory."""


SNAPSHOTTED: tuple[type[Aggregate], ...] = (services.domain.Customer,)
"""The aggregates whose histories grow without bound; the others have a handful of events."""


class EventStore(Application[UUID]):
    """The store of customers, indexes and item outcomes; its tables are named `loyalty_*`.

    Its recorder is a process recorder: events and the Kafka positions they were caused by are
    inserted in one transaction (`store.events.put(events, trackings=[...])`).

    With a snapshot store (`IS_SNAPSHOTTING_ENABLED`) and an interval above 0, every save that
    takes a customer's version across a multiple of `snapshot_interval` is followed by a
    snapshot of it (`take_due_snapshots`), and `repository.get` starts from its latest one.
    """

    name = "loyalty"
    recorder: ProcessRecorder
    snapshots: SnapshotStore | None

    def __init__(self, env: EnvType | None = None, *, snapshot_interval: int = 0,
                 keyring: KeyRing | None = None) -> None:
        self.snapshot_interval = snapshot_interval
        self.keyring = keyring if keyring is not None else KeyRing(
            MemoryKeys(), MasterKeys([bytes.fromhex(DEV_MASTER_KEY)]))
        super().__init__(env)
        if hasattr(self.recorder, "keys"):
            self.recorder.keys = self.keyring  # stored with the events sealed with them

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper, sealing personal fields with each customer's key."""
        return SealingMapper(self.construct_transcoder(), self.keyring)

    def construct_recorder(self) -> ProcessRecorder:
        """A recorder of events that also tracks the positions they were caused by (and stores
        the data keys of what it stores: the PostgreSQL one is chosen by the environment, the
        in-memory one here)."""
        recorder = self.factory.process_recorder()
        return KeyedPOPORecorder() if type(recorder) is POPOProcessRecorder else recorder

    def construct_snapshot_store(self) -> SnapshotStore:
        """The library's snapshot store (table `loyalty_snapshots`), ignoring stale snapshots."""
        return SnapshotStore(mapper=self.mapper,
                             recorder=self.factory.aggregate_recorder(purpose="snapshots"))

    def construct_transcoder(self) -> Transcoder:
        """The compiled JSON transcoder, with the domain's transcodings."""
        transcoder = CompiledJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """Registers the transcodings of the domain's events (see module function)."""
        register_transcodings(transcoder)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save (one atomic write), then the snapshots it made due."""
        recordings = super().save(*objs, **kwargs)
        self.take_due_snapshots([obj for obj in objs if isinstance(obj, Aggregate)],
                                [recording.domain_event for recording in recordings])
        return recordings

    def take_due_snapshots(self, aggregates: Sequence[Aggregate], events: Sequence[Any]) -> None:
        """Snapshots each customer whose saved `events` took its version across a multiple of
        the interval, as it is in memory: the state its events made, at the version of the
        last of them (the processor's cache trusts the same state for its next batch).

        Called after the events' transaction, in one insert of its own: a snapshot is an
        optimisation, so one that is lost (a crash, a conflict with another writer's snapshot
        at the same version) costs a longer replay, never an event, and is only logged."""
        if self.snapshots is None or self.snapshot_interval <= 0:
            return
        due = {event.originator_id for event in events
               if event.originator_version % self.snapshot_interval == 0}
        taken = [snapshot_of(aggregate) for aggregate in aggregates
                 if aggregate.id in due and isinstance(aggregate, SNAPSHOTTED)
                 and not aggregate.pending_events]
        if not taken:
            return
        try:
            self.snapshots.put(taken)
        except Exception as error:  # never fails the save it follows
            log.warning("snapshots not taken", error=f"{type(error).__name__}: {error}",
                        aggregates=[str(snapshot.originator_id) for snapshot in taken])

    def last_version_where(self, aggregate_id: UUID, holds: Callable[[Any], bool]) -> int:
        """The last version of the aggregate whose event `holds` (0: none), for a condition that
        holds of its events up to some version and of none after it, such as "recorded at or
        before an instant" (an aggregate's events are stamped as they are recorded, one writer
        at a time). A binary search: about log2(versions) reads of one event each."""
        last = next(self.events.get(aggregate_id, desc=True, limit=1), None)
        if last is None or holds(last):
            return 0 if last is None else int(last.originator_version)
        low, high = 0, int(last.originator_version)  # `holds` at low (or low is 0), not at high
        while high - low > 1:
            middle = (low + high) // 2
            (event,) = self.events.get(aggregate_id, gt=middle - 1, lte=middle)
            low, high = (middle, high) if holds(event) else (low, middle)
        return low

    def load(self, aggregate_id: UUID, version: int | None = None) -> Aggregate | None:
        """The aggregate with this id (as it was at `version`: None, its latest), or None when
        it does not exist: a unit of work's loader. From its latest snapshot at or before the
        version, if any, then the events after it."""
        try:
            found: Any = self.repository.get(aggregate_id, version=version,
                                             projector_func=replayed)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Aggregate) else None


def replayed(aggregate: Any, events: Iterable[Any]) -> Any:
    """An aggregate after these events (the first may be its snapshot). eventsourcing's own
    projector checks that each event is an instance of a runtime protocol before it applies it:
    14 us an event, a third of replaying one."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


UNAVAILABLE = (persistence.OperationalError, persistence.InterfaceError, psycopg.OperationalError,
               psycopg.InterfaceError, PoolTimeout, ConnectionError, TimeoutError)
"""What a store that cannot be reached raises (eventsourcing has retried a few times already)."""


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` says the store cannot be reached now, rather than that an item or a
    statement is wrong: waiting, then trying again, is the cure."""
    return isinstance(error, UNAVAILABLE)
