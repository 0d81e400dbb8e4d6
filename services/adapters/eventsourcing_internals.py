"""Everything this project takes from eventsourcing beyond its public API, in one place.

eventsourcing 9.5.6 (pinned in constraints.txt); check this module whenever the pin moves. Each
use buys measured speed or does what no public door does:

- `ColumnarProcessRecorder` overrides the recorder's private `_insert_events` and
  `_insert_stored_events`: the library sends a batch as one array of a composite type, which
  psycopg dumps as text in Python at about 0.1 ms an event, the largest cost of a processor
  batch (cProfile of 500-item batches); four arrays of plain types carry the same rows in the
  same single statement, under the same table lock (`_lock_table`), with the same NOTIFY
  (`_notify_channel`). In the same transaction it records the positions of several Kafka
  partitions (`trackings=[...]`, through `_insert_tracking`), where the library takes one, and
  the customers' data keys (`services.adapters.personal_data`): a key is stored with the first
  events sealed with it, and destroyed with the event that erases its customer.
- `ColumnarAggregateRecorder` does the same for the snapshots' table, through
  `ColumnarFactory` (the library's factory with it as its aggregate recorder class): a
  customer's snapshot is megabytes, which the composite type has psycopg escape as text and
  PostgreSQL parse back: 150 ms to insert a 2 MB snapshot, 50 ms as a `bytea`.
- `TrackingView` is a tracking recorder whose position the caller reads and writes on its own
  transaction (`_max_tracking_id`, `_insert_tracking`; the library's examples of views do this
  in their subclasses, through the same protected methods), so that rows and position are
  written together.
- `CompiledJSONTranscoder` is the library's JSON transcoder with orjson doing the JSON, in half
  the time to encode; it hands the registered types to the library's own `_encode_obj` and
  `_decode_obj`, so that it reads and writes exactly what the library does.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    StoredEvent,
    Tracking,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresDatastore,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier


class KeysHook(Protocol):
    """What stores data keys with the events sealed with them (`personal_data.KeyRing`)."""

    def store(self, cursor: Any, stored_events: Sequence[StoredEvent]) -> None: ...

    def stored(self, stored_events: Sequence[StoredEvent]) -> None: ...


class CompiledJSONTranscoder(JSONTranscoder):
    """eventsourcing's JSON transcoder with orjson doing the JSON: the same bytes (compact, UTF-8,
    registered types as `{"_type_": name, "_data_": encoded}`), in half the time to encode.

    It reads everything the library's transcoder wrote, and the library's transcoder reads
    everything it writes (`tests/unit/test_relay_publication.py`). A transcoding marked `plain`
    promises JSON as its encoding (no registered type inside): it is stored, and handed back to
    its `decode`, as it is, without a walk through it."""

    FAST_ENCODERS: dict[type, Callable[[Any], str]] = {
        datetime: datetime.isoformat, Decimal: Decimal.__str__}
    """What the library's own transcodings of these types do, without their method call."""

    def __init__(self) -> None:
        super().__init__()
        self.encoders: dict[type, tuple[str, Callable[[Any], Any]]] = {}
        self.plain_names: set[str] = set()

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        fast = self.FAST_ENCODERS.get(transcoding.type)
        library = type(transcoding) in (DatetimeAsISO, DecimalAsStr)
        self.encoders[transcoding.type] = (
            transcoding.name, fast if fast is not None and library else transcoding.encode)
        if getattr(transcoding, "plain", False):
            self.plain_names.add(transcoding.name)

    def encode(self, obj: Any) -> bytes:
        if type(obj) is not dict:
            return orjson.dumps(self._typed(obj))
        encoders = self.encoders
        state = {}
        for name, value in obj.items():  # an event's state: most values are plain already
            kind = type(value)
            if kind is str or value is None or kind is int or kind is bool:
                state[name] = value
            elif (encoder := encoders.get(kind)) is not None:
                state[name] = {"_type_": encoder[0],
                               "_data_": self._encoded(encoder[0], encoder[1](value))}
            else:
                state[name] = self._typed(value)
        return orjson.dumps(state)

    def decode(self, data: bytes) -> Any:
        return self._untyped(orjson.loads(data))

    def plain(self, data: bytes) -> Any:
        """The stored state as JSON carries it: registered types as their encoded data
        (decimals and date-times as strings, UUIDs as canonical text), none built."""
        return self._plain(orjson.loads(data))

    def _typed(self, value: Any) -> Any:
        kind = type(value)
        if kind is str or value is None or kind is int or kind is bool or kind is float:
            return value
        encoder = self.encoders.get(kind)
        if encoder is not None:
            return {"_type_": encoder[0], "_data_": self._encoded(encoder[0], encoder[1](value))}
        if kind is dict:
            return {key: self._typed(item) for key, item in value.items()}
        if kind is list or kind is tuple:
            return [self._typed(item) for item in value]
        return self._encode_obj(value)  # a subclass of a registered type: the library's error

    def _encoded(self, name: str, data: Any) -> Any:
        """What a transcoding encoded, with the registered types it may hold typed in turn."""
        return data if type(data) is str or name in self.plain_names else self._typed(data)

    def _untyped(self, value: Any) -> Any:
        if type(value) is dict:
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                data = value["_data_"]  # decoded inside out, as the library's object hook does
                if (type(data) is dict or type(data) is list) and (
                        value["_type_"] not in self.plain_names):
                    value["_data_"] = self._untyped(data)
                return self._decode_obj(value)
            return {key: self._untyped(item) for key, item in value.items()}
        if type(value) is list:
            return [self._untyped(item) for item in value]
        return value

    def _plain(self, value: Any) -> Any:
        """`value` (freshly parsed: changed in place) with registered types as their data.
        Only objects and arrays are walked into: most values of a state are strings. A type
        not registered is refused, as decoding refuses it."""
        if type(value) is dict:
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                data, name = value["_data_"], value["_type_"]
                if name not in self.names:
                    raise TranscodingNotRegisteredError(f"data type not registered: {name!r}")
                return str(UUID(data)) if name == UUIDAsHex.name else data
            for key, item in value.items():
                if type(item) is dict or type(item) is list:
                    value[key] = self._plain(item)
            return value
        if type(value) is list:
            for index, item in enumerate(value):
                if type(item) is dict or type(item) is list:
                    value[index] = self._plain(item)
        return value


class ColumnarAggregateRecorder(PostgresAggregateRecorder):
    """eventsourcing's PostgreSQL aggregate recorder, the snapshots' one, inserting its rows as
    four column arrays (see the module's docstring)."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.insert_events_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[])"
        ).format(schema=Identifier(datastore.schema), table=Identifier(self.events_table_name))

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        curs.execute(self.insert_events_statement, columns_of(stored_events))


class ColumnarFactory(PostgresFactory):
    """eventsourcing's PostgreSQL infrastructure, whose aggregate recorders (the snapshots')
    insert as column arrays."""

    aggregate_recorder_class = ColumnarAggregateRecorder


def columns_of(stored_events: Sequence[StoredEvent]) -> tuple[list[Any], ...]:
    """The rows of these stored events as four columns (id, version, topic, state)."""
    return ([event.originator_id for event in stored_events],
            [event.originator_version for event in stored_events],
            [event.topic for event in stored_events],
            [event.state for event in stored_events])


class ColumnarProcessRecorder(PostgresProcessRecorder):
    """eventsourcing's PostgreSQL process recorder, inserting events as four column arrays,
    with the positions of several upstream partitions at once (see the module's docstring)."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.insert_events_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(schema=Identifier(datastore.schema), table=Identifier(self.events_table_name))

    keys: KeysHook | None = None
    """The data keys to store with the events, and those their erasures destroy (set by
    `services.adapters.event_store.EventStore`)."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        """The library's insert; then the keys it stored count as stored."""
        inserted = super().insert_events(stored_events, **kwargs)
        if self.keys is not None:
            self.keys.stored(stored_events)
        return inserted

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """Also records `trackings`: the positions of several partitions, and the data keys the
        events were sealed with (and destroys those of the customers they erase), in the same
        transaction."""
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(curs, tracking=tracking)
        if self.keys is not None:
            self.keys.store(curs, stored_events)
        super()._insert_events(curs, stored_events, **kwargs)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.insert_events_statement, columns_of(stored_events))


class TrackingView(PostgresTrackingRecorder):
    """A tracking recorder (a view, in eventsourcing's terms) whose subclass writes its rows and
    its position in one transaction of its own making."""

    def position_on(self, cursor: Cursor[DictRow], name: str) -> int:
        """The position tracked under `name`, read on `cursor` (0: none yet)."""
        return self._max_tracking_id(name, cursor) or 0

    def track_on(self, cursor: Cursor[DictRow], tracking: Tracking) -> None:
        """Records a position on `cursor`, within the caller's transaction."""
        self._insert_tracking(cursor, tracking)
