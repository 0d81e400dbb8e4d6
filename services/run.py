"""Each service as a process: logging, topics, the service from the composition root, its
metrics and probes, its watchdog, and a clean stop on SIGINT or SIGTERM. `loyalty <service>`
(services.cli) calls these.
"""

import asyncio
import itertools
import sys

import structlog

from services import bootstrap
from services.adapters.health import Watchdog, serve_probes, watch
from services.adapters.heap import keep_collector_off_the_heap
from services.adapters.kafka import backoff, check_access
from services.adapters.kafka_codecs import bound_batches
from services.adapters.kafka_topics import TopicsNotCreatedError, ensure_topics
from services.adapters.metrics import ServiceMetrics, report_group_lag
from services.logs import configure_logging
from services.settings import Settings

log = structlog.get_logger(__name__)

CHECK_TIMEOUT_MS = 10_000
"""How long a service that can start without Kafka waits for it to answer at start-up."""


async def topics_checked(settings: Settings) -> None:
    """Creates the topics that do not exist yet, or waits for `loyalty prepare` to create them
    when the service's principal may not. An existing topic whose layout differs from the
    settings is logged as an error, and the service works with it as it is (refusing would
    stop a running pipeline over a topic that works; `loyalty prepare` refuses it)."""
    for attempt in itertools.count():
        try:
            differing = await ensure_topics(settings)
            break
        except TopicsNotCreatedError as missing:
            wait = backoff(attempt, first=1.0, longest=30.0)
            log.warning("waiting for the topics to be created", reason=str(missing),
                        retry_seconds=round(wait, 1))
            await asyncio.sleep(wait)
    if differing:
        log.error("topics differ from the settings; working with them as they are",
                  differences=differing)


async def kafka_checked(settings: Settings) -> None:
    """For a service that starts without Kafka (projections, api): refuses to start when the
    brokers refuse it (`KafkaAccessError`); a broker that does not answer yet is only logged."""
    await check_access(settings, CHECK_TIMEOUT_MS)


def observed(service: str, settings: Settings) -> tuple[ServiceMetrics, Watchdog]:
    """A service's metrics and watchdog, served on its metrics port and watched; the record
    batches it reads decompress within `LOYALTY_MAX_BATCH_BYTES`; its cycle collector scans
    only young objects (`services.adapters.heap`)."""
    bound_batches(settings.max_batch_bytes)
    keep_collector_off_the_heap()
    measured = bootstrap.metrics(service)
    watched = bootstrap.watchdog(service, settings)
    serve_probes(watched, measured, settings.metrics_host, settings.metrics_port_of(service))
    watch(watched, measured)
    return measured, watched


def intake(settings: Settings) -> None:
    """Stage 1: validates and answers commands until SIGINT or SIGTERM."""
    configure_logging(settings, "intake")
    asyncio.run(_intake(settings))


async def _intake(settings: Settings) -> None:
    await topics_checked(settings)  # before the signal handlers: SIGTERM ends a wait
    stop = bootstrap.stop_on_signals()
    measured, watched = observed("intake", settings)
    consuming = bootstrap.intake(settings, measured, watched)
    lag = asyncio.create_task(report_group_lag(measured, settings, settings.intake_group,
                                               settings.commands_topics()))
    log.info("intake started", topics=settings.commands_topics(), group=settings.intake_group)
    try:
        await consuming.run(stop)
    finally:
        lag.cancel()
    log.info("intake stopped")


def processor(settings: Settings) -> None:
    """Stage 2: applies items until SIGINT or SIGTERM."""
    configure_logging(settings, "processor")
    refuse_if_insecure(settings, settings.insecure_master_key())
    asyncio.run(_processor(settings))


async def _processor(settings: Settings) -> None:
    await topics_checked(settings)  # before the signal handlers: SIGTERM ends a wait
    stop = bootstrap.stop_on_signals()
    measured, watched = observed("processor", settings)
    consumer = await asyncio.to_thread(bootstrap.processor, settings, measured, watched)
    log.info("processor started", topic=settings.items_topic, group=settings.processor_group)
    try:
        await consumer.run(stop)
    finally:
        await asyncio.to_thread(consumer.close)
    log.info("processor stopped", items=consumer.items_processed)


def relay(settings: Settings) -> None:
    """Publishes results and customer events until SIGINT or SIGTERM."""
    configure_logging(settings, "relay")
    refuse_if_insecure(settings, settings.insecure_master_key())
    asyncio.run(_relay(settings))


async def _relay(settings: Settings) -> None:
    await topics_checked(settings)  # before the signal handlers: SIGTERM ends a wait
    stop = bootstrap.stop_on_signals()
    measured, watched = observed("relay", settings)
    service = await asyncio.to_thread(bootstrap.relay, settings, measured, watched)
    log.info("relay started", results=settings.results_topics(), events=settings.events_topics())
    await service.run(stop)
    log.info("relay stopped", published=service.published)


def clock(settings: Settings) -> None:
    """Settles points due to become available or to expire, until SIGINT or SIGTERM."""
    configure_logging(settings, "clock")
    asyncio.run(_clock(settings))


async def _clock(settings: Settings) -> None:
    await topics_checked(settings)  # before the signal handlers: SIGTERM ends a wait
    stop = bootstrap.stop_on_signals()
    measured, watched = observed("clock", settings)
    ticking = bootstrap.clock(settings, measured, watched)
    log.info("clock started", interval_seconds=settings.clock_interval_seconds)
    await ticking.run(stop)
    log.info("clock stopped", settled=ticking.settled)


def projections(settings: Settings) -> None:
    """Follows the event store and the validation results until SIGINT or SIGTERM."""
    configure_logging(settings, "projections")
    refuse_if_insecure(settings, settings.insecure_master_key())
    asyncio.run(kafka_checked(settings))
    measured, watched = observed("projections", settings)

    async def until_stopped() -> None:
        stop = bootstrap.stop_on_signals()
        service = await asyncio.to_thread(bootstrap.projections, settings, measured, watched)
        await service.run(stop)

    asyncio.run(until_stopped())


def api(settings: Settings) -> None:
    """The HTTP application with uvicorn, until SIGINT or SIGTERM; refuses to start with
    forgeable secrets outside development mode."""
    from services.api.app import serve

    configure_logging(settings, "api")
    refuse_if_insecure(settings)
    asyncio.run(kafka_checked(settings))
    serve(bootstrap.api(settings), settings)


def refuse_if_insecure(settings: Settings, problems: list[str] | None = None) -> None:
    """Exits (status 2) saying what to set, when the settings have forgeable defaults (those
    the service reads: by default everything the API reads)."""
    problems = settings.insecure() if problems is None else problems
    if problems:
        log.error("refusing to start: " + "; ".join(problems), problems=problems)
        print("loyalty: refusing to start outside development mode:\n  - "
              + "\n  - ".join(problems)
              + "\nSet them (see README, 'Secrets in production'), or LOYALTY_DEV_MODE=true "
              "for a local trial.", file=sys.stderr)
        raise SystemExit(2)
