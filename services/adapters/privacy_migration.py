"""Bringing a store made before personal data was encrypted to this release's layout, and
wrapping every data key again with a new master key.

`migrate` (`loyalty privacy migrate`, with the processor stopped) does, in transactions of a
thousand events:

1. names every phone and e-mail index by the keyed hash of its value (`services.domain.ids`)
   instead of the value itself: the index's events move to the new id, notification ids and
   versions unchanged;
2. seals the personal fields of every stored event with its customer's key, as the mapper
   would have when storing it (its class's `personal`, at the version it was stored at: an
   `ItemProcessed` of version 1 holds its messages in `result`), making and storing the keys;
3. deletes the customers' snapshots, which held the fields in the clear (the next ones are
   taken as the customers change);
4. records that the store is migrated (`MIGRATED`): the processor refuses to start before.

A store that is migrated already is left as it is, so running it again does nothing; a store
made by this release is migrated from the start (`loyalty prepare` records it).
"""

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

import psycopg
import structlog
from eventsourcing.utils import get_topic, resolve_topic
from psycopg import sql

from events.indexes import EmailHolderAdded, PhoneClaimed
from events.outcomes import ItemProcessed
from services.adapters.personal_data import (
    KEYS_TABLE,
    KeyRing,
    MasterKeys,
    is_sealed,
    seal_state,
)
from services.domain import ids

log = structlog.get_logger(__name__)

MIGRATED = UUID(int=1)
"""The row of `loyalty_keys` that says the store's personal data is sealed (no key in it)."""
CHUNK = 1000
LEGACY_PATHS: dict[tuple[str, int], tuple[str, ...]] = {
    (get_topic(ItemProcessed), 1): ("result.messages.*.text",),
}
"""Personal fields of earlier versions that are not where the class's `personal` says."""

Progress = Callable[[int, int], None]


def is_migrated(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(sql.SQL(f"SELECT 1 FROM {KEYS_TABLE} WHERE subject = %s"),
                       (MIGRATED,)).fetchone()
    return row is not None


def mark_migrated(conn: psycopg.Connection[Any]) -> None:
    conn.execute(sql.SQL(f"INSERT INTO {KEYS_TABLE} (subject, generation, wrapped, master) "
                         "VALUES (%s, 0, NULL, 'migrated') ON CONFLICT DO NOTHING"), (MIGRATED,))


def mark_new_store(dsn: str, events_table: str) -> None:
    """Records a store without events as migrated (`loyalty prepare`): nothing in it predates
    sealing."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        empty = conn.execute(sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(
            sql.SQL(events_table))).fetchone()
        if empty and empty[0]:
            mark_migrated(conn)


def migrate(store: Any, dsn: str, progress: Progress | None = None) -> int:
    """Migrates the store (see the module); returns the events it changed."""
    table = sql.SQL(events_table_of(store))
    with psycopg.connect(dsn) as conn:
        if is_migrated(conn):
            return 0
        changed = rekey_indexes(conn, table, store)
        changed += seal_events(conn, table, store, progress)
        snapshots = getattr(store, "snapshots", None)
        if snapshots is not None:
            conn.execute(sql.SQL("DELETE FROM {}").format(
                sql.SQL(qualified(snapshots.recorder))))
        mark_migrated(conn)
        conn.commit()
    log.info("personal data sealed", events=changed)
    return changed


def qualified(recorder: Any) -> str:
    return f"{recorder.datastore.schema}.{recorder.events_table_name}"


def events_table_of(store: Any) -> str:
    return qualified(store.recorder)


def rekey_indexes(conn: psycopg.Connection[Any], table: sql.SQL, store: Any) -> int:
    """Moves every index named by a plain value to the id of its keyed hash."""
    moved = 0
    for topic, value_of, new_id in (
            (get_topic(PhoneClaimed), "phone", ids.phone_id),
            (get_topic(EmailHolderAdded), "email", ids.email_id)):
        firsts = conn.execute(sql.SQL(
            "SELECT originator_id, state FROM {} WHERE topic = %s AND originator_version = 1"
        ).format(table), (topic,)).fetchall()
        for originator_id, state in firsts:
            claim = store.mapper.transcoder.decode(bytes(state))
            value = claim.get(value_of)
            if value is None or is_sealed(value):
                continue  # keyed already
            target = new_id(claim["programme"], value)
            if target != originator_id:
                moved += conn.execute(sql.SQL(
                    "UPDATE {} SET originator_id = %s WHERE originator_id = %s").format(table),
                    (target, originator_id)).rowcount
    return moved


def seal_events(conn: psycopg.Connection[Any], table: sql.SQL, store: Any,
                progress: Progress | None) -> int:
    """Seals the personal fields stored in the clear, a chunk of events per transaction."""
    topics = personal_topics(conn, table)
    total_row = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE topic = ANY(%s)").format(
        table), (topics,)).fetchone()
    total = int(total_row[0]) if total_row else 0
    keyring: KeyRing = store.keyring
    done = changed = 0
    after = 0
    while True:
        rows = conn.execute(sql.SQL(
            "SELECT notification_id, originator_id, topic, state FROM {} "
            "WHERE topic = ANY(%s) AND notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(table), (topics, after, CHUNK)).fetchall()
        if not rows:
            return changed
        updates = []
        for notification_id, originator_id, topic, state in rows:
            sealed = sealed_state(store, keyring, originator_id, topic, bytes(state))
            if sealed is not None:
                updates.append((sealed, notification_id))
        with conn.cursor() as cursor:
            keyring.store(cursor, [])
            cursor.executemany(sql.SQL("UPDATE {} SET state = %s WHERE notification_id = %s")
                               .format(table), updates)
        conn.commit()
        keyring.stored([])
        changed += len(updates)
        done += len(rows)
        after = rows[-1][0]
        if progress is not None:
            progress(done, total)


def personal_topics(conn: psycopg.Connection[Any], table: sql.SQL) -> list[str]:
    """The stored topics whose classes have personal fields."""
    topics = [row[0] for row in conn.execute(sql.SQL("SELECT DISTINCT topic FROM {}").format(
        table)).fetchall()]
    return [topic for topic in topics if getattr(resolve_topic(topic), "personal", ())]


def sealed_state(store: Any, keyring: KeyRing, originator_id: UUID, topic: str,
                 state: bytes) -> bytes | None:
    """The state with its personal fields sealed; None when there is nothing in the clear."""
    cls = resolve_topic(topic)
    decoded: dict[str, Any] = store.mapper.transcoder.decode(state)
    version = decoded.get("class_version", 1)
    paths = LEGACY_PATHS.get((get_topic(cls), version), cls.personal)
    decoded.setdefault("originator_id", originator_id)
    sealed = seal_state(decoded, paths, cls.personal_subject, keyring)
    if sealed == decoded:
        return None
    sealed.pop("originator_id", None)
    encoded: bytes = store.mapper.transcoder.encode(sealed)
    return encoded


def rotate_master_key(dsn: str, masters: MasterKeys, progress: Progress | None = None) -> int:
    """Wraps every data key that an earlier master key wrapped with the current one; returns
    how many. Run it while `LOYALTY_PREVIOUS_MASTER_KEYS` still holds the earlier keys. A key
    erased while it runs stays erased: only a row that still holds a key is written."""
    current = masters.current_fingerprint
    rotated = 0
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(sql.SQL(
            f"SELECT subject, generation, wrapped, master FROM {KEYS_TABLE} "
            "WHERE wrapped IS NOT NULL AND master <> %s"), (current,)).fetchall()
        for chunk in chunks(rows, CHUNK):
            with conn.cursor() as cursor:
                for subject, generation, wrapped, master in chunk:
                    key = masters.unwrap(subject, generation, bytes(wrapped), master)
                    rewrapped, fingerprinted = masters.wrap(key)
                    cursor.execute(sql.SQL(f"UPDATE {KEYS_TABLE} SET wrapped = %s, master = %s "
                                           "WHERE subject = %s AND generation = %s "
                                           "AND wrapped IS NOT NULL"),
                                   (rewrapped, fingerprinted, subject, generation))
            conn.commit()
            rotated += len(chunk)
            if progress is not None:
                progress(rotated, len(rows))
    return rotated


def chunks(rows: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]

