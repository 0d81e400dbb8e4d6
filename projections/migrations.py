"""The read models' schema, versioned: every change is a migration, applied in order, once, by
`loyalty prepare`, and recorded in `read_models.schema_versions`.

Version 1 is the schema as it was before versions were recorded: each read model's `DDL`
(statements that all say IF NOT EXISTS, so they bring a database of any earlier release to
version 1). Later versions are appended here, never changed: a new column is a new migration
(`ALTER TABLE ... ADD COLUMN`), not a new line in a read model's `DDL`. A database whose
version is newer than this release knows is refused: the services must be upgraded first
(docs/operations.md, "Upgrading").
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from psycopg import sql

from projections import bonus_operations, customers, item_outcomes, lots, messages
from projections.schema import (
    CREATE_SCHEMA,
    FOLLOWERS_DDL,
    LOGIN_HITS_DDL,
    QUARANTINE_DDL,
    SCHEMA,
    VERIFICATIONS_DDL,
)

log = structlog.get_logger(__name__)

VERSIONS = f"{SCHEMA}.schema_versions"
VERSIONS_DDL = sql.SQL(f"""
    CREATE TABLE IF NOT EXISTS {VERSIONS} (
        version integer PRIMARY KEY,
        description text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )""")
LOCK_KEY = 0x6C6F79616C7480
"""Two `loyalty prepare` at once: the second waits for the first."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: Sequence[sql.SQL | sql.Composed]


MIGRATIONS = (
    Migration(1, "customers, bonus operations, messages, item outcomes, pending items, lots", (
        *customers.DDL, *bonus_operations.DDL, *messages.DDL, *item_outcomes.DDL,
        *item_outcomes.PENDING_DDL, *lots.DDL)),
    Migration(2, "quarantined events, followers' heartbeats, verifications, login rate limits",
              (*QUARANTINE_DDL, *FOLLOWERS_DDL, *VERIFICATIONS_DDL, *LOGIN_HITS_DDL)),
    Migration(3, "erasure: when a customer was erased; a message whose text is erased", (
        sql.SQL(f"ALTER TABLE {customers.TABLE} ADD COLUMN IF NOT EXISTS erased_at timestamptz"),
        sql.SQL(f"ALTER TABLE {messages.TABLE} ALTER COLUMN text DROP NOT NULL"),
    )),
)
"""Every version of the schema, in order."""

LATEST = MIGRATIONS[-1].version


class NewerSchemaError(RuntimeError):
    """The database's read models are of a version this release does not know."""


def current_version(conn: psycopg.Connection[Any]) -> int:
    """The version the read models are at (0: none recorded, nor any table to upgrade)."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSIONS,)).fetchone()
    if row and row[0]:
        found = conn.execute(sql.SQL(f"SELECT max(version) FROM {VERSIONS}")).fetchone()
        return int(found[0] or 0) if found else 0
    return 0


def migrate(owner_dsn: str) -> list[Migration]:
    """Brings the read models' schema to the latest version, as the tables' owner; returns the
    migrations applied (each in a transaction of its own)."""
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        conn.execute(CREATE_SCHEMA)
        conn.execute(VERSIONS_DDL)
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            version = current_version(conn)
            if version > LATEST:
                raise NewerSchemaError(
                    f"the read models are at version {version}, newer than the {LATEST} this "
                    "release knows: upgrade the services first")
            applied = []
            for migration in MIGRATIONS:
                if migration.version <= version:
                    continue
                with conn.transaction():
                    for statement in migration.statements:
                        conn.execute(statement)
                    conn.execute(sql.SQL(f"INSERT INTO {VERSIONS} (version, description) "
                                         "VALUES (%s, %s)"),
                                 (migration.version, migration.description))
                log.info("read models migrated", version=migration.version,
                         description=migration.description)
                applied.append(migration)
            return applied
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
