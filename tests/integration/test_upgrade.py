"""Upgrading a database the previous release left: `loyalty prepare` brings its read models'
schema to this release's version, keeps every row, and the read models then follow on and
verify against the event store, against a real PostgreSQL.

The database is `tests/fixtures/database_before_versioned_read_models.sql`: a dump of what the
release before versioned schemas made of a workload, events and folded read models both.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from projections.migrations import LATEST, MIGRATIONS, VERSIONS, NewerSchemaError, migrate
from projections.schema import LOGIN_HITS, SCHEMA, TRACKING_TABLE
from projections.verify import Scope, verify_read_models
from projections.view import EVENT_TABLES
from services import bootstrap
from services.settings import Settings
from tests.conftest import scratch_database
from tests.support.workload import record, workload

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BEFORE = ROOT / "tests/fixtures/database_before_versioned_read_models.sql"
POSITION_BEFORE = 157
"""The read models' position in the dump (its header says so)."""


@pytest.fixture
def settings(postgres_server_dsn: str) -> Iterator[Settings]:
    """A database as the previous release left it."""
    for dsn in scratch_database(postgres_server_dsn):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(BEFORE.read_text())  # type: ignore[call-overload]
        yield Settings(postgres_dsn=dsn, postgres_owner_dsn=dsn)


def read_models(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    with psycopg.connect(settings.postgres_dsn, row_factory=dict_row) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in EVENT_TABLES if table_exists(conn, table)}


def table_exists(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (table,)).fetchone()
    return bool(row and (row["found"] if isinstance(row, dict) else row[0]))


def versions(settings: Settings) -> list[int]:
    with psycopg.connect(settings.postgres_dsn) as conn:
        return [row[0] for row in conn.execute(f"SELECT version FROM {VERSIONS} ORDER BY 1")]


def position(settings: Settings) -> int:
    with psycopg.connect(settings.postgres_dsn) as conn:
        row = conn.execute(
            f"SELECT max(notification_id) FROM {SCHEMA}.{TRACKING_TABLE}").fetchone()
        return int(row[0]) if row and row[0] is not None else 0


def test_prepare_upgrades_the_previous_release_keeping_every_row(settings: Settings) -> None:
    before = read_models(settings)
    with psycopg.connect(settings.postgres_dsn) as conn:
        assert not table_exists(conn, VERSIONS), "the dump is of a release without versions"
        assert not table_exists(conn, LOGIN_HITS)
    assert position(settings) == POSITION_BEFORE
    customers = before[f"{SCHEMA}.customers"]
    assert customers, "the dump holds customers"

    bootstrap.event_store(settings, create_tables=True).close()  # as `loyalty prepare` does
    applied = bootstrap.create_read_model_tables(settings)

    assert [migration.version for migration in applied] == [m.version for m in MIGRATIONS]
    assert versions(settings) == [m.version for m in MIGRATIONS] and versions(
        settings)[-1] == LATEST
    after = read_models(settings)
    for table, rows in before.items():
        kept = [{column: row[column] for column in rows[0]} for row in after[table]] if rows \
            else after[table]
        assert kept == rows, f"{table} kept every row as it was (new columns aside)"
    assert position(settings) == POSITION_BEFORE, "the read models follow on, not start over"
    with psycopg.connect(settings.postgres_dsn) as conn:
        assert table_exists(conn, LOGIN_HITS), "what the new release needs is there"

    assert verify_read_models(bootstrap.read_models_writer(settings), Scope()).ok, \
        "the old rows equal the old events"
    writer = bootstrap.read_models_writer(settings)
    try:
        record(writer_store := bootstrap.event_store(settings), workload(seed=11)[:60])
        writer_store.close()
        head = writer.catch_up()
    finally:
        writer.close()
    assert head > POSITION_BEFORE and position(settings) == head
    report = verify_read_models(bootstrap.read_models_writer(settings), Scope())
    assert report.ok, report.differences
    assert len(read_models(settings)[f"{SCHEMA}.customers"]) > len(customers)


def test_prepare_again_applies_nothing(settings: Settings) -> None:
    bootstrap.create_read_model_tables(settings)
    assert migrate(settings.postgres_dsn) == []
    assert versions(settings) == [m.version for m in MIGRATIONS]


def test_a_database_newer_than_the_release_is_refused(settings: Settings) -> None:
    bootstrap.create_read_model_tables(settings)
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        conn.execute(f"INSERT INTO {VERSIONS} (version, description) VALUES (%s, 'later')",
                     (LATEST + 1,))
    with pytest.raises(NewerSchemaError, match="upgrade the services first"):
        migrate(settings.postgres_dsn)

    env = {**os.environ, "LOYALTY_POSTGRES_DSN": settings.postgres_dsn,
           "LOYALTY_POSTGRES_OWNER_DSN": settings.postgres_dsn, "LOYALTY_LOG_JSON": "0",
           "LOYALTY_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    done = subprocess.run([sys.executable, "-m", "services.cli", "projections", "rebuild"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 78, done.stderr
    assert "newer than" in done.stderr and "upgrade the services first" in done.stderr
