"""Where the read models live: one PostgreSQL schema of their own, beside the event store, with
the tables that say how far they have come and what was left out."""

from psycopg import sql

from services.adapters.event_store import EventStore

SCHEMA = "read_models"
"""The schema of every read-model table and of the projection's tracking table."""

PROJECTION_NAME = "read_models"
"""The projection's name: eventsourcing prefixes its settings and tracking table with it."""

TRACKING_TABLE = f"{PROJECTION_NAME}_tracking"
"""eventsourcing's table of the last notification id folded into the read models."""

CREATE_SCHEMA = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA))

APPLICATION_NAME = EventStore.name
"""The tracking name of the read models' position: the event store application's name."""

POSITION_CHANNEL = "read_models_position"
"""The PostgreSQL notification channel on which the writer says that the position moved."""

QUARANTINE = f"{SCHEMA}.quarantine"
"""Events left out of the read models (a fold failed, the database refused a row), and why."""
QUARANTINE_DDL = (
    sql.SQL(f"""
    CREATE TABLE IF NOT EXISTS {QUARANTINE} (
        notification_id bigint PRIMARY KEY,
        originator_id text NOT NULL,
        topic text NOT NULL,
        error text NOT NULL,
        quarantined_at timestamptz NOT NULL DEFAULT now()
    )"""),
)

FOLLOWERS = f"{SCHEMA}.followers"
"""Each follower's heartbeat: its position, how far it has to go, and when it last moved."""
FOLLOWERS_DDL = (
    sql.SQL(f"""
    CREATE TABLE IF NOT EXISTS {FOLLOWERS} (
        name text PRIMARY KEY,
        position bigint NOT NULL,
        target bigint NOT NULL,
        progressed_at timestamptz NOT NULL,
        beat_at timestamptz NOT NULL,
        stuck boolean NOT NULL DEFAULT false
    )"""),
)

VERIFICATIONS = f"{SCHEMA}.verifications"
"""Every `loyalty projections verify`: when, what it covered, how many differences it found."""
VERIFICATIONS_DDL = (
    sql.SQL(f"""
    CREATE TABLE IF NOT EXISTS {VERIFICATIONS} (
        id bigserial PRIMARY KEY,
        finished_at timestamptz NOT NULL DEFAULT now(),
        scope text NOT NULL,
        position bigint NOT NULL,
        aggregates bigint NOT NULL,
        differences bigint NOT NULL,
        quarantined bigint NOT NULL
    )"""),
)

LOGIN_HITS = f"{SCHEMA}.login_hits"
"""Logins through the bonus window counted per key and window, shared by every API instance
(`services.api.login_limits`)."""
LOGIN_HITS_DDL = (
    sql.SQL(f"""
    CREATE TABLE IF NOT EXISTS {LOGIN_HITS} (
        key bytea NOT NULL,
        period bigint NOT NULL,
        hits integer NOT NULL,
        ends_at timestamptz NOT NULL,
        PRIMARY KEY (key, period)
    )"""),
    sql.SQL(f"CREATE INDEX IF NOT EXISTS login_hits_ends_at ON {LOGIN_HITS} (ends_at)"),
)
