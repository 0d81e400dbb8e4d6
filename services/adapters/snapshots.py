"""Snapshots of customers: a customer's state at a version, so that loading it replays only the
events after that version.

eventsourcing's own snapshotting does the work: the snapshot store (a table of its own,
`loyalty_snapshots`, beside the events), the aggregate's `Snapshot` (its `__dict__` at a version)
and `repository.get`, which starts from the latest snapshot at or before the version it is asked
for. What this module adds:

- transcodings for what a customer's state holds beyond the events' types: the dataclasses of
  its wallet and messages (each as the row of its fields' values) and its status (its value);
- a snapshot store that yields only the snapshots the running code reads as they were written.
  A snapshot records its aggregate's `class_version` (the library does, when above 1); one of
  another version, or one that no longer decodes, is ignored as if it did not exist, and the
  aggregate is replayed from its events (the repository asks for the latest snapshot only: the
  whole history, until the next snapshot is taken). Never upcast, never misread: a snapshot is
  an optimisation, and a newer one comes at the next interval.
"""

import dataclasses
import types
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints
from uuid import UUID

import structlog
from eventsourcing import persistence
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import JSONTranscoder, StoredEvent, Transcoding
from eventsourcing.utils import resolve_topic

from services.domain.customer import CustomerStatus, QueuedMessage
from services.domain.points import Balances, Lot, Spend, Wallet

log = structlog.get_logger(__name__)


class DataclassAsRow(Transcoding):
    """A dataclass as the list of its fields' values, in their order; decimals and date-times
    as the strings their own transcodings would give, read back by the field's type; anything
    else (a dict of lots, a nested dataclass) is left to the transcoder.

    A customer's wallet holds a lot per accrual: as rows, 20,000 lots take a quarter of the
    bytes of dicts of typed values and half the time to read (docs/benchmarks.md,
    "Snapshots")."""

    def __init__(self, cls: type, name: str) -> None:
        self.type = cls
        self.name = name
        hints = get_type_hints(cls)
        self.fields = tuple(field.name for field in dataclasses.fields(cls))
        self.readers = tuple(reader_of(hints[name]) for name in self.fields)

    def encode(self, obj: Any) -> list[Any]:
        return [written(getattr(obj, name)) for name in self.fields]

    def decode(self, data: list[Any]) -> Any:
        return self.type(*[value if read is None or value is None else read(value)
                           for read, value in zip(self.readers, data, strict=True)])


def written(value: Any) -> Any:
    """A field's value as it is written: a decimal or a date-time as a string."""
    kind = type(value)
    if kind is Decimal:
        return str(value)
    if kind is datetime:
        return value.isoformat()
    return value


def reader_of(hint: Any) -> Callable[[Any], Any] | None:
    """How a field of this type is read back from what `written` wrote and JSON carried (None:
    as it is)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        (hint,) = [arg for arg in args if arg is not type(None)]
        origin, args = get_origin(hint), get_args(hint)
    if hint is Decimal:
        return Decimal
    if hint is datetime:
        return datetime.fromisoformat
    if origin is list and args and get_origin(args[0]) is tuple:
        return lambda rows: [tuple(row) for row in rows]  # their values: the transcoder's
    return None


class EnumAsValue(Transcoding):
    """An enum member as its value (`CustomerStatus.ACTIVE` as "Active")."""

    def __init__(self, cls: type[Enum], name: str) -> None:
        self.type = cls
        self.name = name

    def encode(self, obj: Enum) -> Any:
        return obj.value

    def decode(self, data: Any) -> Enum:
        return self.type(data)


STATE_TYPES: dict[str, type] = {
    "Wallet": Wallet, "Lot": Lot, "Spend": Spend, "Balances": Balances,
    "QueuedMessage": QueuedMessage,
}
"""The dataclasses a customer's state holds, by their stored name (rename a class freely;
never its name here)."""


def register_state_transcodings(transcoder: JSONTranscoder) -> None:
    """Registers what a snapshot of a customer carries beyond the events' types."""
    for name, cls in STATE_TYPES.items():
        transcoder.register(DataclassAsRow(cls, name))
    transcoder.register(EnumAsValue(CustomerStatus, "CustomerStatus"))


def class_version_of(aggregate_class: type) -> int:
    """The layout version of an aggregate's state (eventsourcing's `class_version`, 1 unless
    the class says otherwise)."""
    return int(getattr(aggregate_class, "class_version", 1))


def is_current(snapshot: Snapshot) -> bool:
    """Whether the snapshot was taken of the aggregate's state as the running code lays it out."""
    taken_at = snapshot.state.get("class_version", 1)
    return bool(taken_at == class_version_of(resolve_topic(snapshot.topic)))


class SnapshotStore(persistence.EventStore[UUID]):
    """The store of snapshots: yields only those the running code reads as they were written."""

    def get(self, originator_id: UUID, *, gt: int | None = None, lte: int | None = None,
            desc: bool = False, limit: int | None = None) -> Iterator[Any]:
        stored = self.recorder.select_events(originator_id, gt=gt, lte=lte, desc=desc,
                                             limit=limit)
        return (snapshot for snapshot in map(self.restorable, stored) if snapshot is not None)

    def restorable(self, stored: StoredEvent) -> Snapshot | None:
        """The snapshot, or None when it is of another layout version or does not decode."""
        try:
            snapshot = self.mapper.to_domain_event(stored)
            if isinstance(snapshot, Snapshot) and is_current(snapshot):
                return snapshot
            reason = "another class version"
        except Exception as error:  # a layout of the past: its types or fields are gone
            reason = f"{type(error).__name__}: {error}"
        log.warning("snapshot ignored; the aggregate is replayed from its events",
                    aggregate_id=str(stored.originator_id), version=stored.originator_version,
                    reason=reason)
        return None


def snapshot_of(aggregate: Any) -> Snapshot:
    """The snapshot of an aggregate's state at its version."""
    snapshot: Snapshot = type(aggregate).Snapshot.take(aggregate)
    return snapshot

