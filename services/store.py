"""Where the event store lives: eventsourcing's PostgreSQL environment from our settings."""

from urllib.parse import unquote, urlsplit

from services.settings import Settings


def event_store_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for `settings.postgres_dsn` (PostgreSQL persistence)."""
    dsn = urlsplit(settings.postgres_dsn)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dsn.path.lstrip("/") or "loyalty",
        "POSTGRES_HOST": dsn.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(dsn.port or 5432),
        "POSTGRES_USER": unquote(dsn.username or "loyalty"),
        "POSTGRES_PASSWORD": unquote(dsn.password or ""),
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
        "CREATE_TABLE": "y",
    }
