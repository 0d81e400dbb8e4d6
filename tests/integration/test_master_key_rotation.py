"""`loyalty privacy rotate-master-key` against a real PostgreSQL: every data key is wrapped by
the new master key afterwards and still opens what it sealed, and a customer erased while the
rotation runs stays erased (the rotation never writes a destroyed key back)."""

import os
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from services.adapters.personal_data import (
    KEYS_DDL,
    KEYS_TABLE,
    KeyRing,
    MasterKeys,
    PostgresKeys,
    fingerprint,
)
from services.adapters.privacy_migration import rotate_master_key
from tests.conftest import scratch_database

pytestmark = pytest.mark.integration

OLD, NEW = os.urandom(32), os.urandom(32)


@pytest.fixture
def dsn(postgres_server_dsn: str) -> Iterator[str]:
    for scratch in scratch_database(postgres_server_dsn):
        with psycopg.connect(scratch, autocommit=True) as conn:
            for statement in KEYS_DDL:
                conn.execute(statement)
        yield scratch


def keyed(dsn: str, subjects: list[UUID]) -> dict[UUID, str]:
    """Keys for `subjects` under the old master key, stored; a sealed phone of each."""
    table = PostgresKeys(dsn)
    ring = KeyRing(table, MasterKeys([OLD]))
    tokens = {subject: ring.seal(subject, f"+7916000{n:04}") for n, subject in enumerate(subjects)}
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        table.insert(cursor, ring.pending_rows(subjects))
    table.close()
    return tokens


def test_rotation_rewraps_every_key_and_leaves_a_key_erased_meanwhile_erased(
        dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ann, bob = uuid4(), uuid4()
    tokens = keyed(dsn, [ann, bob])
    masters = MasterKeys([NEW, OLD])
    unwrap = masters.unwrap

    def erasing_ann_meanwhile(subject: UUID, *rest: Any) -> Any:
        key = unwrap(subject, *rest)
        if subject == ann:  # after the rotation read the rows, before it writes them
            with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
                PostgresKeys(dsn).erase(cursor, [ann])
        return key

    monkeypatch.setattr(masters, "unwrap", erasing_ann_meanwhile)
    assert rotate_master_key(dsn, masters) == 2

    with psycopg.connect(dsn) as conn:
        rows: dict[UUID, str] = dict(conn.execute(f"SELECT subject, master FROM {KEYS_TABLE} "
                                 "WHERE wrapped IS NOT NULL").fetchall())
    assert rows == {bob: fingerprint(NEW)}, "Ann's erased key was not written back"
    after = KeyRing(PostgresKeys(dsn), MasterKeys([NEW]))
    assert after.open(bob, tokens[bob]) == "+79160000001"
    assert after.open(ann, tokens[ann]) is None
