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


Write = Callable[[Any], Any]
Read = Callable[[Any], Any]


def as_is(value: Any) -> Any:
    return value


class DataclassAsRow(Transcoding):
    """A dataclass of a customer's state as the row (a JSON list) of its fields' values, each
    written by its declared type: decimals and date-times as strings, enums as their values,
    dataclasses as rows, lists, tuples and dicts item by item. What it writes is plain JSON
    (`plain`): the transcoder stores it as it is, and hands it back to `decode` as JSON gives it.

    A customer's wallet holds up to some 10,000 lots and spends; written so, a snapshot of them
    takes two fifths of the bytes of dicts of typed values, half the time to write and a third
    to read (docs/benchmarks.md, "Snapshots"). A field of a type it cannot write fails when the
    transcoder is built, not when a snapshot is taken."""

    plain = True

    def __init__(self, cls: type, name: str) -> None:
        self.type = cls
        self.name = name
        self.write, self.read = row_codec(cls)

    def encode(self, obj: Any) -> list[Any]:
        return self.write(obj)

    def decode(self, data: list[Any]) -> Any:
        return self.read(data)


def row_codec(cls: type) -> tuple[Write, Read]:
    """How an instance of the dataclass `cls` is written as a row, and read back."""
    hints = get_type_hints(cls)
    names = [field.name for field in dataclasses.fields(cls)]
    codecs = [codec_of(hints[name]) for name in names]
    writers = [(name, write) for name, (write, _) in zip(names, codecs, strict=True)]
    readers = [read for _, read in codecs]

    def write_row(obj: Any) -> list[Any]:
        return [write(getattr(obj, name)) for name, write in writers]

    def read_row(row: list[Any]) -> Any:
        return cls(*[read(value) for read, value in zip(readers, row, strict=True)])

    return write_row, read_row


def codec_of(hint: Any) -> tuple[Write, Read]:
    """How a value of this declared type is written as plain JSON, and read back."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        (inner,) = [arg for arg in args if arg is not type(None)]  # X | None
        return optional(*codec_of(inner))
    if hint in (str, int, bool, float):
        return as_is, as_is
    if hint is Decimal:
        return str, Decimal
    if hint is datetime:
        return datetime.isoformat, datetime.fromisoformat
    if isinstance(hint, type) and issubclass(hint, Enum):
        return (lambda member: member.value), hint
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return row_codec(hint)
    if origin is list:
        write_item, read_item = codec_of(args[0])
        return ((lambda items: [write_item(item) for item in items]),
                (lambda items: [read_item(item) for item in items]))
    if origin is tuple and Ellipsis not in args:
        parts = list(zip(*[codec_of(arg) for arg in args], strict=True))
        writes, reads = parts[0], parts[1]
        return ((lambda items: [write(item) for write, item in zip(writes, items, strict=True)]),
                (lambda items: tuple(read(item) for read, item in zip(reads, items, strict=True))))
    if origin is dict and args[0] is str:
        write_value, read_value = codec_of(args[1])
        return ((lambda items: {key: write_value(value) for key, value in items.items()}),
                (lambda items: {key: read_value(value) for key, value in items.items()}))
    raise TypeError(f"a snapshot cannot hold a {hint}: teach services.adapters.snapshots")


def optional(write: Write, read: Read) -> tuple[Write, Read]:
    """The codec of `X | None` from that of X."""
    if write is as_is and read is as_is:
        return as_is, as_is
    return ((lambda value: None if value is None else write(value)),
            (lambda value: None if value is None else read(value)))


class EnumAsValue(Transcoding):
    """An enum member as its value (`CustomerStatus.ACTIVE` as "Active")."""

    plain = True

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

