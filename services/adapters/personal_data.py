"""Personal data at rest, encrypted per customer, so that destroying one key erases one person.

Every customer (every *subject*) has a data key of its own: 32 random bytes, AES-GCM. Personal
fields (a phone, an e-mail address, a message's text) are stored as tokens
`pd1:<generation>:<base64url of nonce + ciphertext>`, sealed with the subject's key; the
subject's id and the key's generation are the associated data, so a token cannot be moved to
another customer. The keys live in `loyalty_keys`, each wrapped (AES-GCM again) by the master
key of the settings, never in the clear. Erasing a customer sets its wrapped key to NULL: every
token sealed with it becomes unreadable, in the events, the snapshots and the dead letters
alike, while the events themselves stay as they were. A customer given personal data again
after an erasure gets a key of the next generation; tokens of the erased one stay unreadable.

The phone and e-mail indexes are found by a keyed hash (HMAC-SHA256) of the value, under an
index key of the store's own (the row of the nil subject, wrapped like the others): the ids of
the indexes reveal nothing without it.

`KeyRing` is what the event store uses: keys by subject, cached for the life of a batch,
created in memory and inserted in the transaction that stores the first events sealed with them
(`pending` / `committed`), so that no event is ever stored under a key that is not.
docs/privacy.md says what is personal, where it lives and for how long.
"""

import base64
import dataclasses
import hashlib
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol
from uuid import UUID

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic
from psycopg import sql

from events.customer import CustomerErased
from services.adapters.dead_letters import DeadLetter

PREFIX = "pd1:"
NONCE_BYTES = 12
KEYS_TABLE = "public.loyalty_keys"
INDEX_SUBJECT = UUID(int=0)
"""The subject of the index key (no customer has the nil id)."""
ERASED = None
"""What a personal field reads as once its key is gone."""

KEYS_DDL = (
    sql.SQL(f"""
    CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (
        subject uuid PRIMARY KEY,
        generation integer NOT NULL,
        wrapped bytea,
        master text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        erased_at timestamptz
    )"""),
)


def fingerprint(master: bytes) -> str:
    """Which master key wrapped a data key (never the key itself)."""
    return hashlib.sha256(b"loyalty master key\x00" + master).hexdigest()[:16]


def _aad(subject: UUID, generation: int) -> bytes:
    return subject.bytes + generation.to_bytes(4, "big")


@dataclass(frozen=True)
class DataKey:
    """One subject's key of one generation."""

    subject: UUID
    generation: int
    secret: bytes

    @cached_property
    def _cipher(self) -> AESGCM:
        """Made once per key: making one costs more than sealing a phone number with it."""
        return AESGCM(self.secret)

    @cached_property
    def _associated_data(self) -> bytes:
        return _aad(self.subject, self.generation)

    def seal(self, value: str) -> str:
        """The token of `value`, readable with this key alone."""
        return self.seal_bytes(value.encode()).decode()

    def open(self, token: str) -> str | None:
        """The value of a token sealed with this key; None when it was sealed with another
        generation (an erased one) or altered."""
        opened = self.open_bytes(token.encode())
        return None if opened is None else opened.decode()

    def seal_bytes(self, value: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._cipher.encrypt(nonce, value, self._associated_data)
        return (f"{PREFIX}{self.generation}:".encode()
                + base64.urlsafe_b64encode(nonce + sealed))

    def open_bytes(self, token: bytes) -> bytes | None:
        generation, _, encoded = token[len(PREFIX):].partition(b":")
        if generation != str(self.generation).encode():
            return ERASED
        raw = base64.urlsafe_b64decode(encoded)
        try:
            return self._cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                        self._associated_data)
        except InvalidTag:
            return ERASED


def is_sealed(value: object) -> bool:
    return type(value) is str and value.startswith(PREFIX)


class MasterKeys:
    """The master key that wraps data keys, and the earlier ones that may still unwrap."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a master key is needed")
        self.current = keys[0]
        self.current_fingerprint = fingerprint(self.current)
        self.by_fingerprint = {fingerprint(key): AESGCM(key) for key in keys}
        """Each master key's cipher (safe to share between threads: each call has its own
        context), by the fingerprint stored beside the keys it wrapped."""

    def wrap(self, key: DataKey) -> tuple[bytes, str]:
        nonce = os.urandom(NONCE_BYTES)
        wrapped = nonce + self.by_fingerprint[self.current_fingerprint].encrypt(
            nonce, key.secret, _aad(key.subject, key.generation))
        return wrapped, self.current_fingerprint

    def unwrap(self, subject: UUID, generation: int, wrapped: bytes, master: str) -> DataKey:
        found = self.by_fingerprint.get(master)
        if found is None:
            raise LookupError(f"the data key of {subject} is wrapped by a master key that is "
                              "not configured (LOYALTY_MASTER_KEY, LOYALTY_PREVIOUS_MASTER_KEYS)")
        secret = found.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:],
                               _aad(subject, generation))
        return DataKey(subject, generation, secret)


@dataclass
class KeyRow:
    """A row of `loyalty_keys` as read: None for `wrapped` once erased."""

    generation: int
    wrapped: bytes | None
    master: str


class KeyTable(Protocol):
    """Where the wrapped keys are kept."""

    def read(self, subjects: Sequence[UUID]) -> dict[UUID, KeyRow]: ...

    def insert(self, cursor: Any, rows: Sequence[tuple[UUID, int, bytes, str]]) -> set[UUID]:
        ...

    def erase(self, cursor: Any, subjects: Sequence[UUID]) -> None: ...


class PostgresKeys:
    """`loyalty_keys` on PostgreSQL."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.connection: psycopg.Connection[Any] | None = None
        self.lock = threading.Lock()

    def read(self, subjects: Sequence[UUID]) -> dict[UUID, KeyRow]:
        if not subjects:
            return {}
        with self.lock:
            for attempt in (1, 2):  # a connection that went away is made again, once
                try:
                    conn = self._connection()
                    rows = conn.execute(
                        sql.SQL(f"SELECT subject, generation, wrapped, master FROM {KEYS_TABLE} "
                                "WHERE subject = ANY(%b)"), (list(subjects),)).fetchall()
                    return {row[0]: KeyRow(row[1], None if row[2] is None else bytes(row[2]),
                                           row[3]) for row in rows}
                except psycopg.OperationalError:
                    self.close()
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def insert(self, cursor: Any, rows: Sequence[tuple[UUID, int, bytes, str]]) -> set[UUID]:
        """Inserts new keys (generation 1) and re-keys erased subjects (a later generation),
        in the caller's transaction; returns the subjects keyed meanwhile by someone else,
        whose rows it left as they were."""
        first = [row for row in rows if row[1] == 1]
        conflicted: set[UUID] = set()
        if first:
            cursor.execute(sql.SQL(
                f"INSERT INTO {KEYS_TABLE} (subject, generation, wrapped, master) "
                "SELECT * FROM unnest(%b::uuid[], %b::integer[], %b::bytea[], %b::text[]) "
                "ON CONFLICT (subject) DO NOTHING RETURNING subject"),
                tuple(list(column) for column in zip(*first, strict=True)))
            inserted = {row["subject"] if isinstance(row, dict) else row[0]
                        for row in cursor.fetchall()}  # the library's cursors give dicts
            conflicted |= {row[0] for row in first} - inserted
        for subject, generation, wrapped, master in rows:
            if generation == 1:
                continue
            cursor.execute(sql.SQL(
                f"UPDATE {KEYS_TABLE} SET generation = %s, wrapped = %s, master = %s, "
                "created_at = now(), erased_at = NULL "
                "WHERE subject = %s AND generation = %s AND wrapped IS NULL"),
                (generation, wrapped, master, subject, generation - 1))
            if cursor.rowcount != 1:
                conflicted.add(subject)
        return conflicted

    def erase(self, cursor: Any, subjects: Sequence[UUID]) -> None:
        """Destroys these subjects' keys, in the caller's transaction."""
        cursor.execute(sql.SQL(f"UPDATE {KEYS_TABLE} SET wrapped = NULL, erased_at = now() "
                               "WHERE subject = ANY(%s)"), (list(subjects),))

    def _connection(self) -> psycopg.Connection[Any]:
        if self.connection is None or self.connection.closed:
            self.connection = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class MemoryKeys:
    """`loyalty_keys` in memory: the in-memory event store of the domain's tests."""

    def __init__(self) -> None:
        self.rows: dict[UUID, KeyRow] = {}

    def read(self, subjects: Sequence[UUID]) -> dict[UUID, KeyRow]:
        return {subject: self.rows[subject] for subject in subjects if subject in self.rows}

    def insert(self, cursor: Any, rows: Sequence[tuple[UUID, int, bytes, str]]) -> set[UUID]:
        conflicted = set()
        for subject, generation, wrapped, master in rows:
            held = self.rows.get(subject)
            if held is not None and (held.wrapped is not None or held.generation >= generation):
                conflicted.add(subject)
            else:
                self.rows[subject] = KeyRow(generation, wrapped, master)
        return conflicted

    def erase(self, cursor: Any, subjects: Sequence[UUID]) -> None:
        for subject in subjects:
            if subject in self.rows:
                self.rows[subject].wrapped = None


class KeyRing:
    """The data keys of the subjects a process works with.

    `key_for_sealing` gives a subject's current key, making one (pending) when it has none or
    its key was erased; `pending_rows` are the keys to insert with the events that use them,
    `committed` marks them stored. `key_for_opening` gives the key a token can be read with,
    or None. `refresh` reads the keys of a batch's subjects again, in one query, so that an
    erasure committed by another process is seen at the next batch.
    """

    def __init__(self, table: KeyTable, masters: MasterKeys) -> None:
        self.table = table
        self.masters = masters
        self.keys: dict[UUID, DataKey | None] = {}
        """Known keys: a DataKey, or None for a subject whose key was erased."""
        self.generations: dict[UUID, int] = {}
        """The generation of each known subject's row, 0 for a subject read without one: a
        subject with no key gets one of the next generation without another query."""
        self.pending: dict[UUID, DataKey] = {}
        self.storing: list[UUID] = []
        self.lock = threading.Lock()

    def refresh(self, subjects: Iterable[UUID]) -> None:
        """Reads these subjects' keys again. A row read before what another thread has
        applied meanwhile (an older generation, or a key that the other read already found
        erased) does not bring it back: a key's life only goes forward."""
        wanted = [subject for subject in set(subjects) if subject not in self.pending]
        rows = self.table.read(wanted)
        with self.lock:
            for subject in wanted:
                row = rows.get(subject)
                if self._older(subject, row):
                    continue
                if row is None:
                    self.keys.pop(subject, None)
                    self.generations[subject] = 0
                else:
                    known = self.keys.get(subject)
                    if (known is None or known.generation != row.generation
                            or row.wrapped is None):  # else: the same key, already unwrapped
                        self.keys[subject] = self._unwrapped(subject, row)
                    self.generations[subject] = row.generation

    def _older(self, subject: UUID, row: KeyRow | None) -> bool:
        """Whether `row` was read before the state already known of `subject` (under the
        lock): generations only grow, and within one an erasure is final."""
        known = self.generations.get(subject)
        if known is None:
            return False
        generation = 0 if row is None else row.generation
        erased = subject in self.keys and self.keys[subject] is None
        return generation < known or (
            generation == known and erased and row is not None and row.wrapped is not None)

    def clear(self) -> None:
        """Forgets every key read (those still to store stay): the next use reads it again."""
        with self.lock:
            self.keys.clear()
            self.generations.clear()

    def forget(self, subjects: Iterable[UUID]) -> None:
        with self.lock:
            for subject in subjects:
                self.keys.pop(subject, None)
                self.generations.pop(subject, None)
                self.pending.pop(subject, None)

    def key_for_opening(self, subject: UUID) -> DataKey | None:
        if subject in self.pending:
            return self.pending[subject]
        if subject not in self.generations:
            self.refresh([subject])
        return self.keys.get(subject)

    def key_for_sealing(self, subject: UUID) -> DataKey:
        """The subject's key; a new one (pending) when it has none, or none any more. A
        subject read in this batch (`refresh`) costs no query, keyed or not."""
        with self.lock:
            if subject in self.pending:
                return self.pending[subject]
        if subject not in self.generations:
            self.refresh([subject])
        with self.lock:
            key = self.keys.get(subject)
            if key is not None:
                return key
            generation = self.generations.get(subject, 0) + 1
            made = DataKey(subject, generation, AESGCM.generate_key(bit_length=256))
            self.pending[subject] = made
            return made

    def pending_rows(self, subjects: Iterable[UUID]) -> list[tuple[UUID, int, bytes, str]]:
        """The keys still to insert for these subjects (those whose events are being stored)."""
        with self.lock:
            made = [self.pending[subject] for subject in set(subjects) if subject in self.pending]
        return [(key.subject, key.generation, *self.masters.wrap(key)) for key in made]

    def committed(self, subjects: Iterable[UUID]) -> None:
        with self.lock:
            for subject in subjects:
                key = self.pending.pop(subject, None)
                if key is not None:
                    self.keys[subject] = key
                    self.generations[subject] = key.generation

    def store(self, cursor: Any, stored_events: Sequence[StoredEvent]) -> None:
        """In the transaction that stores these events: the keys made for them (every pending
        one), and the destruction of the keys of the customers they erase. A key someone else
        made meanwhile fails the transaction (IntegrityError: the caller retries, and reads
        that key)."""
        with self.lock:
            self.storing = list(self.pending)
        conflicted = self.table.insert(cursor, self.pending_rows(self.storing))
        if conflicted:
            self.forget(conflicted)
            raise IntegrityError(f"data keys made meanwhile by another writer: {conflicted}")
        erased = erased_by(stored_events)
        if erased:
            self.table.erase(cursor, erased)

    def stored(self, stored_events: Sequence[StoredEvent]) -> None:
        """Once the transaction committed: its keys are stored; the erased ones are gone."""
        self.committed(self.storing)
        self.storing = []
        self.forget(erased_by(stored_events))

    def _unwrapped(self, subject: UUID, row: KeyRow) -> DataKey | None:
        if row.wrapped is None:
            return None
        return self.masters.unwrap(subject, row.generation, row.wrapped, row.master)

    def open(self, subject: UUID, value: Any) -> Any:
        """A field's value as stored: the plain value, or None once its key is gone."""
        if not is_sealed(value):
            return value  # stored before personal data was encrypted (see `migrate`)
        key = self.key_for_opening(subject)
        return ERASED if key is None else key.open(value)

    def seal(self, subject: UUID, value: Any) -> Any:
        if value is None or is_sealed(value):
            return value
        return self.key_for_sealing(subject).seal(value)

    def seal_bytes(self, subject: UUID, value: bytes) -> bytes:
        return self.key_for_sealing(subject).seal_bytes(value)

    def open_bytes(self, subject: UUID, token: bytes) -> bytes | None:
        key = self.key_for_opening(subject)
        return ERASED if key is None else key.open_bytes(token)


ERASED_TOPIC = get_topic(CustomerErased)


def erased_by(stored_events: Sequence[StoredEvent]) -> list[UUID]:
    """The customers these stored events erase."""
    return [UUID(str(event.originator_id)) for event in stored_events
            if event.topic == ERASED_TOPIC]


def index_key(table: KeyTable, masters: MasterKeys, cursor: Any = None) -> bytes:
    """The store's index key, made (and inserted through `cursor`) the first time."""
    row = table.read([INDEX_SUBJECT]).get(INDEX_SUBJECT)
    if row is not None and row.wrapped is not None:
        key = masters.unwrap(INDEX_SUBJECT, row.generation, row.wrapped, row.master)
        return key.secret
    if cursor is None:
        raise LookupError("the store has no index key yet: run `loyalty prepare`")
    made = DataKey(INDEX_SUBJECT, 1, AESGCM.generate_key(bit_length=256))
    if table.insert(cursor, [(INDEX_SUBJECT, 1, *masters.wrap(made))]):
        return index_key(table, masters)  # made meanwhile by another `prepare`
    return made.secret


def _walk(value: Any, path: Sequence[str], change: Any) -> Any:
    """`value` with `change` applied to what `path` names inside it (`*`: every list item)."""
    if not path:
        return change(value)
    head, rest = path[0], path[1:]
    if head == "*":
        return value if type(value) is not list else [_walk(item, rest, change) for item in value]
    if type(value) is not dict or head not in value:
        return value
    return {**value, head: _walk(value[head], rest, change)}


def _subject_of(state: dict[str, Any], field: str) -> UUID | None:
    found = state.get(field)
    if found is None:
        return None
    return found if type(found) is UUID else UUID(str(found))


def seal_state(state: dict[str, Any], paths: Sequence[str], subject_field: str,
               keyring: KeyRing) -> dict[str, Any]:
    """An event's state with its personal fields sealed (a new dict; `state` is left as is)."""
    subject = _subject_of(state, subject_field)
    if subject is None:
        return state
    sealed = dict(state)
    for path in paths:
        parts = path.split(".")
        sealed[parts[0]] = _walk(sealed.get(parts[0]), parts[1:],
                                 lambda value: keyring.seal(subject, value))
    return sealed


def open_state(state: dict[str, Any], paths: Sequence[str], subject_field: str,
               keyring: KeyRing) -> None:
    """Opens an event's sealed personal fields in place (None where the key is gone)."""
    subject = _subject_of(state, subject_field)
    if subject is None:
        return
    for path in paths:
        parts = path.split(".")
        if parts[0] in state:
            state[parts[0]] = _walk(state[parts[0]], parts[1:],
                                    lambda value: keyring.open(subject, value))


def omit_state(state: dict[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """An event's state without its personal fields (for `loyalty.events` by default)."""
    kept = dict(state)
    for path in paths:
        parts = path.split(".")
        if len(parts) == 1:
            kept.pop(parts[0], None)
        else:
            kept[parts[0]] = _walk(kept.get(parts[0]), parts[1:-1],
                                   lambda value, last=parts[-1]: {
                                       key: item for key, item in value.items() if key != last}
                                   if type(value) is dict else value)
    return kept


SNAPSHOT_FIELDS = ("phone", "email")
"""A customer's personal attributes, in its snapshots' state; and each queued message's text."""


def _snapshot_state(state: dict[str, Any], subject: UUID, change: Any) -> dict[str, Any]:
    changed = dict(state)
    for name in SNAPSHOT_FIELDS:
        if name in changed:
            changed[name] = change(subject, changed[name])
    messages = changed.get("messages")
    if type(messages) is dict:
        changed["messages"] = {key: dataclasses.replace(message,
                                                        text=change(subject, message.text))
                               for key, message in messages.items()}
    return changed


class SealingMapper(Mapper[UUID]):
    """eventsourcing's mapper, sealing the personal fields of an event (its class's
    `personal`) before it is stored and opening them when it is read; and those of a
    customer's snapshot (`SNAPSHOT_FIELDS`, its messages' texts)."""

    def __init__(self, transcoder: Transcoder, keyring: KeyRing) -> None:
        super().__init__(transcoder)
        self.keyring = keyring

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if isinstance(domain_event, Snapshot):
            sealed_snapshot = object.__new__(type(domain_event))
            object.__setattr__(sealed_snapshot, "__dict__", {
                **vars(domain_event), "state": _snapshot_state(
                    domain_event.state, domain_event.originator_id, self.keyring.seal)})
            return super().to_stored_event(sealed_snapshot)
        paths = getattr(type(domain_event), "personal", ())
        if paths:
            state = seal_state(vars(domain_event), paths, type(domain_event).personal_subject,
                               self.keyring)
            sealed = object.__new__(type(domain_event))
            object.__setattr__(sealed, "__dict__", state)
            domain_event = sealed
        return super().to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return self._opened(super().to_domain_event(stored_event))

    def to_domain_events(self, stored_events: Sequence[StoredEvent]
                         ) -> list[Any | Exception]:
        """Each stored event as `to_domain_event` makes it, or the error that prevented it;
        the keys they need are read in one query rather than one per customer."""
        decoded: list[Any | Exception] = []
        for stored_event in stored_events:
            try:
                decoded.append(super().to_domain_event(stored_event))
            except Exception as error:
                decoded.append(error)
        self.keyring.refresh(
            subject for event in decoded if not isinstance(event, Exception)
            if (subject := self._subject(event)) is not None
            and subject not in self.keyring.generations)
        opened: list[Any | Exception] = []
        for event in decoded:
            try:
                opened.append(event if isinstance(event, Exception) else self._opened(event))
            except Exception as error:
                opened.append(error)
        return opened

    @staticmethod
    def _subject(event: Any) -> UUID | None:
        """The customer whose key opens the event's personal fields (None: it has none)."""
        if isinstance(event, Snapshot):
            return event.originator_id
        kind: Any = type(event)
        if not getattr(kind, "personal", ()):
            return None
        return _subject_of(vars(event), kind.personal_subject)

    def _opened(self, event: Any) -> Any:
        if isinstance(event, Snapshot):
            vars(event)["state"] = _snapshot_state(event.state, event.originator_id,
                                                   self.keyring.open)
            return event
        kind: Any = type(event)
        paths = getattr(kind, "personal", ())
        if paths:
            open_state(vars(event), paths, kind.personal_subject, self.keyring)
        return event


def domain_events(mapper: Mapper[UUID], stored_events: Sequence[StoredEvent]
                  ) -> list[Any | Exception]:
    """The domain events of these stored events, or the error that prevented each; with a
    `SealingMapper`, the keys they need read in one query."""
    if isinstance(mapper, SealingMapper):
        return mapper.to_domain_events(stored_events)
    decoded: list[Any | Exception] = []
    for stored_event in stored_events:
        try:
            decoded.append(mapper.to_domain_event(stored_event))
        except Exception as error:
            decoded.append(error)
    return decoded


def sealed_letter(letter: DeadLetter, keyring: KeyRing, subject: UUID) -> DeadLetter:
    """The letter with its value and error sealed with the customer's data key."""
    value = letter.origin.value
    return dataclasses.replace(
        letter, origin=dataclasses.replace(
            letter.origin, value=None if value is None else keyring.seal_bytes(subject, value)),
        error=keyring.seal(subject, letter.error), sealed_for=str(subject))


def opened_letter(letter: DeadLetter, keyring: KeyRing) -> DeadLetter | None:
    """A sealed letter as it was before it was sealed; None once its customer was erased."""
    if letter.sealed_for is None:
        return letter
    subject = UUID(letter.sealed_for)
    value = letter.origin.value
    plain = None if value is None else keyring.open_bytes(subject, value)
    error = keyring.open(subject, letter.error)
    if error is None or (value is not None and plain is None):
        return None
    return dataclasses.replace(letter, origin=dataclasses.replace(letter.origin, value=plain),
                               error=error, sealed_for=None)
