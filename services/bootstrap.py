"""The composition root: every service is built here from `Settings`, and nowhere else.

Here, and only here (with the adapters' factories it calls), are made every Kafka client, every
connection pool, every event store and the FastAPI application, and each service is handed
what it uses: a client, or the factory of one where the service must make it in its event loop
(aiokafka's rule) or again after a failure; a pool, or a pool per start; an event store, or the
factory of one where a follower starts over. `tests/unit/test_composition_root.py` holds every
other module to that.

Entry points (`services.run`, the `loyalty` commands, the tools) and the tests build what they
run through these functions, the tests with fakes where no server is wanted
(`api(settings, pipeline=...)`); nothing connects to a server at import time, and settings are
read once, by the caller, and passed down.
"""

import asyncio
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from services.adapters.event_store import IN_MEMORY, EventStore
from services.adapters.health import Watchdog
from services.adapters.kafka_topics import TopicsError, ensure_topics
from services.adapters.metrics import ServiceMetrics
from services.adapters.postgres import grant_to_services, postgres_event_store, role_of
from services.adapters.privacy_migration import events_table_of, mark_new_store
from services.contract.rules import ValidationRules
from services.domain.commands import Limits, PointsPolicy
from services.settings import Settings

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient
    from fastapi import FastAPI

    from projections.migrations import Migration
    from projections.pending import PendingItems
    from projections.service import ProjectionsService
    from projections.view import ReadModelView
    from projections.writer import ReadModelFollower, ReadModelWriter
    from services.api.login_limits import HitCounter
    from services.api.pipeline import Pipeline
    from services.api.window_reads import WindowReads
    from services.clock.ticks import Clock
    from services.intake.consumer import CommandConsumer
    from services.processor.consumer import ItemConsumer
    from services.relay.service import RelayService

log = structlog.get_logger(__name__)



def event_store(settings: Settings, *, create_tables: bool = False) -> EventStore:
    """The event store on PostgreSQL (its tables are made by `prepare`)."""
    store: EventStore = postgres_event_store(settings, create_tables=create_tables)
    return store


def in_memory_event_store(snapshot_interval: int = 0) -> EventStore:
    """An event store in memory: the domain's own tests and trials (with snapshots every
    `snapshot_interval` events of a customer; 0: none)."""
    snapshotting = {"IS_SNAPSHOTTING_ENABLED": "y" if snapshot_interval > 0 else "n"}
    return EventStore(env={**IN_MEMORY, **snapshotting}, snapshot_interval=snapshot_interval)


def as_owner(settings: Settings) -> Settings:
    """The settings with the role that owns the tables: to create, alter or drop them."""
    return settings.model_copy(update={"postgres_dsn": settings.postgres_owner_dsn})


def prepare(settings: Settings) -> None:
    """Creates the topics and the event store, brings the read models' schema to this
    release's version (`projections.migrations`; as the tables' owner), and lets the services'
    role use them: every service can start. Refuses (`TopicsError`, before anything else)
    when a topic exists with another layout than the settings say."""
    differing = asyncio.run(ensure_topics(settings))
    if differing:
        raise TopicsError("topics differ from the settings; change the topics or the settings "
                          "(LOYALTY_TOPIC_*), then prepare again:\n" + "\n".join(differing))
    owner = as_owner(settings)
    store = event_store(owner, create_tables=True)
    mark_new_store(owner.postgres_dsn, events_table_of(store))
    store.close()
    create_read_model_tables(owner)
    grant_services(settings)
    log.info("topics, event store and read models ready")


def grant_services(settings: Settings) -> None:
    """Grants the services' role its rights on the owner's tables (none needed when one role
    is both)."""
    service_role = role_of(settings.postgres_dsn)
    if service_role != role_of(settings.postgres_owner_dsn):
        grant_to_services(settings.postgres_owner_dsn, service_role)


def metrics(service: str) -> ServiceMetrics:
    """The Prometheus metrics of one service."""
    return ServiceMetrics(service)


def watchdog(service: str, settings: Settings) -> Watchdog:
    """What tells whether a service is alive, ready and making progress."""
    return Watchdog(service, settings.stuck_after_seconds)


def intake(settings: Settings, measured: ServiceMetrics, watched: Watchdog) -> "CommandConsumer":
    """Stage 1: the consumer of commands and what validates and answers them."""
    from services.adapters.kafka import consumer, producer
    from services.adapters.publishing import Publisher
    from services.intake.consumer import CommandConsumer
    from services.intake.worker import CommandValidator

    validator = CommandValidator(settings, validation_rules(settings),
                                 Publisher(settings, measured, lambda: producer(settings)),
                                 measured)
    return CommandConsumer(settings, validator, lambda: consumer(settings, settings.intake_group),
                           watched)


class NotPreparedError(RuntimeError):
    """The store is not ready for this release: `loyalty prepare` (or `loyalty privacy
    migrate`) must run first."""


def refuse_unmigrated(settings: Settings) -> None:
    """The processor writes personal data only into a store whose data is sealed and whose
    indexes are keyed: it refuses an older store until `loyalty privacy migrate` ran."""
    import psycopg

    from services.adapters.privacy_migration import is_migrated

    with psycopg.connect(settings.postgres_dsn, connect_timeout=10) as conn:
        try:
            migrated = is_migrated(conn)
        except psycopg.errors.UndefinedTable:
            migrated = False
    if not migrated:
        raise NotPreparedError(
            "the event store holds personal data an earlier release stored in the clear, or "
            "`loyalty prepare` has not run: run `loyalty prepare`, then, with the processor "
            "stopped, `loyalty privacy migrate` (docs/operations.md, \"Upgrading\")")
def validation_rules(settings: Settings) -> ValidationRules:
    """The limits and enumerations of stage 1, as the settings configure them."""
    return ValidationRules(
        max_items=settings.max_items_per_command,
        max_bytes=settings.max_command_bytes,
        phone_region=settings.phone_default_region,
        event_types=tuple(settings.event_types),
        operation_types=tuple(settings.operation_types),
        programmes=frozenset(settings.programmes),
        max_decimal_digits=settings.max_decimal_digits,
        max_decimal_exponent=settings.max_decimal_exponent,
    )


def points_policies(settings: Settings) -> Callable[[str], PointsPolicy]:
    """Each programme's defaults for the dates of an accrual's points."""
    default = PointsPolicy(settings.points_pending_days, settings.points_validity_days)
    own = {programme: PointsPolicy(policy.pending_days, policy.validity_days)
           for programme, policy in settings.points_policies.items()}
    return lambda programme: own.get(programme, default)


def limits(settings: Settings) -> Limits:
    """How much of each kind one customer may hold."""
    return Limits(max_queued_messages=settings.max_queued_messages_per_customer,
                  max_shown_per_login=settings.max_messages_per_login,
                  max_open_lots=settings.max_open_lots_per_customer,
                  max_closed_lots=settings.max_closed_lots_per_customer,
                  max_spends=settings.max_spends_per_customer,
                  max_allocations=settings.max_allocations_per_spend)


def processor(settings: Settings, measured: ServiceMetrics, watched: Watchdog) -> "ItemConsumer":
    """Stage 2: the consumer of items and the processor that applies them to the store."""
    from services.adapters.kafka import consumer, producer
    from services.processor.batches import ItemProcessor
    from services.processor.consumer import INCARNATION_CHECK_SECONDS, ItemConsumer

    store = event_store(settings)
    try:
        refuse_unmigrated(settings)
    except NotPreparedError:
        store.close()
        raise
    applying = ItemProcessor(store, points_policies(settings), limits(settings))
    return ItemConsumer(
        settings, applying, measured, watched,
        consumer=lambda: consumer(
            settings, settings.processor_group, auto_offset_reset="none",
            metadata_max_age_ms=int(INCARNATION_CHECK_SECONDS * 1000)),
        dead_letters=lambda: producer(settings))


def clock(settings: Settings, measured: ServiceMetrics, watched: Watchdog) -> "Clock":
    """The service's clock: settles points due to become available or to expire."""
    from psycopg import AsyncConnection

    from services.adapters.kafka import producer
    from services.clock.ticks import Clock

    return Clock(settings, measured, watched, producer=lambda: producer(settings),
                 connect=lambda: AsyncConnection.connect(settings.postgres_dsn))


def relay(settings: Settings, measured: ServiceMetrics, watched: Watchdog) -> "RelayService":
    """The publisher of results and customer events, with its producer: it follows the read
    models' position, woken when their writer moves it."""
    from projections.progress import Heartbeat
    from projections.schema import POSITION_CHANNEL
    from services.adapters.following import Wakeups
    from services.adapters.kafka import producer
    from services.adapters.publishing import Publisher
    from services.relay.publisher import Relay
    from services.relay.service import FOLLOWER_NAME, RelayService

    read_models = read_models_view(settings)
    return RelayService(
        Relay(settings, event_store(settings), measured),
        Publisher(settings, measured, lambda: producer(settings)),
        bound=read_models.position, wakeups=Wakeups(settings.postgres_dsn, POSITION_CHANNEL),
        watchdog=watched,
        heartbeat=Heartbeat(settings.postgres_dsn, FOLLOWER_NAME, settings.stuck_after_seconds),
        closing=[read_models.datastore])


def read_models_view(settings: Settings, *, create_tables: bool = False) -> "ReadModelView":
    """The read models' view (a tracking recorder, with a pool of its own) in the read-model
    schema, built through eventsourcing's public factory as its own ProjectionRunner builds a
    view; `create_tables`: its tracking table too (as the tables' owner)."""
    from eventsourcing.persistence import InfrastructureFactory
    from eventsourcing.utils import Environment

    from projections.schema import PROJECTION_NAME
    from projections.view import ReadModelView
    from projections.writer import projection_env

    env = projection_env(settings, create_tables=create_tables)
    named = Environment(PROJECTION_NAME, {**os.environ, **env})
    return InfrastructureFactory[ReadModelView].construct(env=named).tracking_recorder(
        ReadModelView)


def read_models_writer(settings: Settings, metrics: ServiceMetrics | None = None, *,
                       create_tables: bool = False) -> "ReadModelWriter":
    """The read models' writer on the event store of `settings` (that first brings the read
    models' schema to this release's version when `create_tables`, as their owner)."""
    from projections.migrations import migrate
    from projections.writer import ReadModelWriter

    if create_tables:
        migrate(settings.postgres_dsn)
    view = read_models_view(settings, create_tables=create_tables)
    return ReadModelWriter(event_store(settings), view, metrics=metrics)


def create_read_model_tables(settings: Settings) -> "list[Migration]":
    """Brings the read models' schema to this release's version and creates their tracking
    table when missing, as the tables' owner; returns the migrations applied."""
    from projections.migrations import migrate

    applied = migrate(settings.postgres_dsn)
    read_models_view(settings, create_tables=True).datastore.close()
    return applied


def rebuild_read_models(settings: Settings, progress: Callable[[int, int], None] | None = None,
                        ) -> int:
    """`loyalty projections rebuild` (`settings` as the tables' owner): the read models
    emptied and folded again from the whole event store; returns the head reached."""
    from projections.writer import rebuild

    create_read_model_tables(settings)
    return rebuild(settings.postgres_dsn, lambda: read_models_writer(settings), progress)


def read_models_follower(settings: Settings, watched: Watchdog,
                         measured: ServiceMetrics | None = None) -> "ReadModelFollower":
    """What keeps the read models up to date: their writer (made again after a failure),
    woken by the event store's notifications, beating in `read_models.followers`."""
    from projections.progress import Heartbeat
    from projections.writer import FOLLOWER_NAME, ReadModelFollower
    from services.adapters.following import Wakeups

    return ReadModelFollower(
        lambda: read_models_writer(settings, measured),
        Wakeups(settings.postgres_dsn, channel=events_channel(settings)),
        Heartbeat(settings.postgres_dsn, FOLLOWER_NAME, settings.stuck_after_seconds),
        watched, measured)


def events_channel(settings: Settings) -> str:
    """The notification channel eventsourcing signals on when it stores events."""
    store = event_store(settings)
    try:
        recorder: Any = store.recorder  # PostgreSQL's: the library's type does not say it
        return str(recorder.channel_name)
    finally:
        store.close()


def pending_items(settings: Settings) -> "PendingItems":
    """The pending items' consumer: accepted items, from the validation results on Kafka."""
    from psycopg import AsyncConnection

    from projections.pending import PendingItems
    from services.adapters.kafka import consumer

    return PendingItems(lambda: consumer(settings, settings.projections_group),
                        settings.results_topics(),
                        lambda: AsyncConnection.connect(settings.postgres_dsn))


def projections(settings: Settings, measured: ServiceMetrics, watched: Watchdog,
                ) -> "ProjectionsService":
    """The read models' service: their follower, the pending items, the results' lag."""
    from projections.service import ProjectionsService
    from services.adapters.metrics import report_group_lag

    return ProjectionsService(
        read_models_follower(settings, watched, measured), pending_items(settings),
        lambda: report_group_lag(measured, settings, settings.projections_group,
                                 settings.results_topics()))


def api(settings: Settings, *, pipeline: "Pipeline | None" = None,
        window_reads: "WindowReads | None" = None,
        login_hits: "HitCounter | None" = None) -> "FastAPI":
    """The HTTP application (read API, command gateway, bonus window) with what it uses: a
    pool of read-model connections per start, the event store for customers' histories, a
    Kafka producer for the pipeline. Tests give fakes for the pipeline and the window's reads
    and hit counter; nothing connects before the application starts."""
    from fastapi import FastAPI

    from services.adapters.kafka import producer
    from services.adapters.pools import PoolPerStart, read_pool
    from services.api.app import APPLICATION, install, lifespan
    from services.api.auth import ApiKeys
    from services.api.history import History
    from services.api.login_limits import PostgresHits
    from services.api.metrics import ApiMetrics
    from services.api.pipeline import PipelineClient
    from services.api.resources import ApiResources
    from services.api.window_reads import ReadModelWindow

    read_models = PoolPerStart(lambda: read_pool(settings))
    resources = ApiResources(
        read_models=read_models,
        history=History(lambda: event_store(settings)),
        pipeline=PipelineClient(settings, lambda: producer(settings))
        if pipeline is None else pipeline,
        window_reads=ReadModelWindow(read_models) if window_reads is None else window_reads,
        login_hits=PostgresHits(read_models) if login_hits is None else login_hits,
        keys=ApiKeys.of(settings),
        metrics=ApiMetrics(count_every=settings.metrics_count_seconds),
        stuck_after=settings.stuck_after_seconds)
    app = FastAPI(**APPLICATION, lifespan=lifespan(resources))
    return install(app, settings, resources, validation_rules(settings))


def kafka_producer(settings: Settings, **options: Any) -> "AIOKafkaProducer":
    """A producer for a command or a tool (`loyalty deadletter replay`, the benchmark): acks
    from every in-sync replica, idempotent. Make it in the event loop that uses it."""
    from services.adapters.kafka import producer

    return producer(settings, **options)


def kafka_reader(settings: Settings, **options: Any) -> "AIOKafkaConsumer":
    """A consumer outside any group for a command or a tool that reads topics through (the
    dead letters, the benchmark's results). Make it in the event loop that uses it."""
    from services.adapters.kafka import reader

    return reader(settings, **options)


def kafka_admin(settings: Settings, **options: Any) -> "AIOKafkaAdminClient":
    """An admin client for a tool (the benchmark's topics)."""
    from services.adapters.kafka import admin_client

    return admin_client(settings, **options)


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, for a service's main loop to end cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop
