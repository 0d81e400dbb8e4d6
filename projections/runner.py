"""Following the event store: start the read-model runner, follow it forever, or rebuild.

Everything here is synchronous (eventsourcing and psycopg block) and runs in threads of its own.
"""

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.projection import BaseProjectionRunner
from eventsourcing.utils import Environment
from psycopg import sql

from projections.schema import APPLICATION_NAME, PROJECTION_NAME, SCHEMA, TRACKING_TABLE
from projections.view import EVENT_TABLES, OvertakenError, ReadModelProjection, ReadModelView
from services.adapters.event_store import EventStore
from services.adapters.kafka import backoff
from services.adapters.metrics import ServiceMetrics
from services.adapters.postgres import event_store_env
from services.settings import Settings

log = structlog.get_logger(__name__)

RETRY_SECONDS = 2.0


def projection_env(settings: Settings, *, create_tables: bool = False) -> dict[str, str]:
    """The event store's environment, with the view's tables in the read-model schema."""
    env = event_store_env(settings, create_tables=create_tables)
    return {**env, f"{PROJECTION_NAME.upper()}_POSTGRES_SCHEMA": SCHEMA}


def events_table(env: Mapping[str, str]) -> sql.Composable:
    """The event store's table, named as eventsourcing names it for the EventStore."""
    app_env = Environment(APPLICATION_NAME, {**os.environ, **env})
    schema = app_env.get("POSTGRES_SCHEMA") or "public"
    return sql.Identifier(schema, f"{APPLICATION_NAME.lower()}_events")


def view_of(env: Mapping[str, str]) -> ReadModelView:
    """The read models' view (a tracking recorder) in the read-model schema, built through
    eventsourcing's public factory as its own ProjectionRunner builds a view."""
    named = Environment(PROJECTION_NAME, {**os.environ, **env})
    return InfrastructureFactory[ReadModelView].construct(env=named).tracking_recorder(
        ReadModelView)


def single_connection_view(settings: Settings) -> ReadModelView:
    """The read models' view on one connection, knowing the event store's table: for the
    processor's inline writes (on the processor's own transaction) and for looking at the
    position and the head."""
    env = projection_env(settings)
    view = view_of({**env, f"{PROJECTION_NAME.upper()}_POSTGRES_POOL_SIZE": "1"})
    view.events_table = events_table(env)
    return view


class ReadModelRunner(BaseProjectionRunner[EventStore]):
    """eventsourcing's ProjectionRunner for the read models, which also tells the view where
    the event store's head is before the first event arrives. Use it as a context manager."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.view = view_of(env)
        self.view.events_table = events_table(env)
        self.view.written_to = self.view.max_tracking_id(APPLICATION_NAME) or 0
        self.projection = ReadModelProjection(view=self.view)
        super().__init__(
            projection=self.projection,
            application_class=EventStore,
            tracking_recorder=self.view,
            topics=(),
            env=env,
        )

    def __exit__(self, *exc_info: Any) -> None:
        """Stops following, then closes the view's connections too."""
        try:
            super().__exit__(*exc_info)
        finally:
            self.view.datastore.close()

    def position(self) -> int:
        """The last notification id folded into the read models (0 before the first)."""
        return self.view.max_tracking_id(self.app_name) or 0


IDLE_SECONDS = 0.5
"""How often a service whose read models are up to date looks whether they fell behind."""


def follow(settings: Settings, stop: threading.Event,
           metrics: ServiceMetrics | None = None) -> None:
    """Keeps the read models up to date until `stop` is set.

    With inline folding (the default) the processor folds what it stores, and this only
    catches up when the read models are behind the event store: a runner is started, runs to
    the head, and is closed again. Without it, a runner follows the store for ever. A runner
    that fails (a database that went away) is started again, a little later after each
    failure in a row; one overtaken by the processor starts again at once."""
    env = projection_env(settings)
    probe = single_connection_view(settings)
    failures = 0
    try:
        while not stop.is_set():
            try:
                if settings.read_models_inline and probe.caught_up():
                    failures = 0
                    stop.wait(IDLE_SECONDS)
                    continue
                with ReadModelRunner(env) as runner:
                    log.info("projection following", position=runner.position())
                    while not stop.is_set() and not runner.is_interrupted.is_set():
                        runner.run_forever(timeout=IDLE_SECONDS)
                        failures = 0
                        if settings.read_models_inline and runner.view.caught_up():
                            break
            except OvertakenError as overtaken:
                log.info("read models folded by the processor meanwhile; following on",
                         detail=str(overtaken))
            except Exception:
                wait = backoff(failures, first=RETRY_SECONDS, longest=30.0)
                failures += 1
                log.exception("projection failed; restarting", retry_seconds=round(wait, 2))
                if metrics is not None:
                    metrics.error("projection")
                stop.wait(wait)
    finally:
        probe.datastore.close()


def drop_read_models(dsn: str) -> None:
    """Drops the tables built from the event store and their tracking position.

    The pending items (from Kafka, not from the event store) are kept.
    """
    tables = [sql.SQL(table) for table in (*EVENT_TABLES, f"{SCHEMA}.{TRACKING_TABLE}")]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.SQL(", ").join(tables)))


Progress = Callable[[int, int], None]
"""(position, head) -> None: told how far a rebuild has come."""


def rebuild(settings: Settings, progress: Progress | None = None) -> int:
    """Drops the read models and folds the whole event store again, up to the head it had
    when the rebuild started; returns that head. Stop `projections run` first."""
    drop_read_models(settings.postgres_dsn)
    with ReadModelRunner(projection_env(settings, create_tables=True)) as runner:
        head = runner.view.head()
        position = runner.position()
        while position < head:
            runner.run_forever(timeout=0.2)
            if runner.is_interrupted.is_set():
                raise RuntimeError("the projection stopped before the rebuild finished")
            position = runner.position()
            if progress is not None:
                progress(position, head)
    return head


def catch_up(runner: ReadModelRunner, timeout: float = 60.0) -> None:
    """Blocks until the runner has folded every event stored before the call."""
    deadline = time.monotonic() + timeout
    head = runner.view.head()
    while runner.position() < head:
        if time.monotonic() > deadline:
            raise TimeoutError(f"projection at {runner.position()}, head at {head}")
        runner.run_forever(timeout=0.05)


def create_tables(settings: Settings) -> None:
    """Creates the read-model schema, tables and tracking table when missing."""
    view_of(projection_env(settings, create_tables=True)).datastore.close()
