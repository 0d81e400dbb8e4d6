"""Where the read models live: one PostgreSQL schema of their own, beside the event store."""

from psycopg import sql

from services.adapters.event_store import EventStore

SCHEMA = "read_models"
"""The schema of every read-model table and of the projection's tracking table."""

PROJECTION_NAME = "read_models"
"""The projection's name: eventsourcing prefixes its settings and tracking table with it."""

TRACKING_TABLE = f"{PROJECTION_NAME}_tracking"
"""eventsourcing's table of the last notification id folded into the read models."""

CREATE_SCHEMA = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA))
DROP_SCHEMA = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA))

APPLICATION_NAME = EventStore.name
"""The tracking name of the read models' position: the event store application's name, as
eventsourcing's runner records it."""
