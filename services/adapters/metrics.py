"""Prometheus metrics of the pipeline's services, each on a port of its own.

Every service counts the records it handled, its errors and its dead letters, and reports its
consumer lag per partition; `loyalty run` reports restarts. `serve_metrics` exposes a registry
on `LOYALTY_METRICS_HOST:LOYALTY_METRICS_PORT` (port 0: not exposed), for operators only: no
figure here names a programme or a customer.
"""

import asyncio
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from services.adapters.kafka import admin_client, client_options
from services.settings import Settings

log = structlog.get_logger(__name__)


class ServiceMetrics:
    """The metrics of one service, in a registry of its own."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        registry = self.registry
        self.records = Counter("loyalty_records", "Records handled, by topic and outcome.",
                               ["service", "topic", "outcome"], registry=registry)
        self.errors = Counter("loyalty_errors", "Failures, retried or not, by kind.",
                              ["service", "kind"], registry=registry)
        self.dead_letters = Counter("loyalty_dead_letters", "Records sent to the dead-letter "
                                    "topic.", ["service", "topic"], registry=registry)
        self.lag = Gauge("loyalty_consumer_lag", "Records on a partition not yet handled.",
                         ["service", "topic", "partition"], registry=registry)
        self.quarantined = Counter("loyalty_events_quarantined", "Events left out of the read "
                                   "models (`loyalty projections verify` lists them).",
                                   ["service"], registry=registry)
        self.restarts = Counter("loyalty_service_restarts", "Services that exited and were "
                                "started again by `loyalty run`.", ["service"],
                                registry=registry)

    def handled(self, topic: str, count: int = 1, outcome: str = "handled") -> None:
        self.records.labels(self.service, topic, outcome).inc(count)

    def error(self, kind: str) -> None:
        self.errors.labels(self.service, kind).inc()

    def dead_lettered(self, topic: str) -> None:
        self.dead_letters.labels(self.service, topic).inc()

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        self.lag.labels(self.service, topic, str(partition)).set(max(0, lag))


def serve_metrics(metrics: ServiceMetrics, host: str, port: int) -> None:
    """Serves the registry over HTTP in a thread of its own; a port in use is logged, not
    fatal (two instances of a service on one host need two ports)."""
    if port == 0:
        return
    try:
        start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as error:
        log.warning("metrics not served", port=port, error=str(error))
        return
    log.info("metrics served", url=f"http://{host}:{port}/metrics")


async def report_group_lag(metrics: ServiceMetrics, settings: Settings, group: str,
                           topics: Iterable[str], every: float = 10.0) -> None:
    """Sets the lag of a consumer group (log end offset - committed offset) per partition,
    every `every` seconds (intake: its lag as lag tools see it)."""
    wanted = set(topics)
    while True:
        try:
            await _group_lag_once(metrics, settings, group, wanted)
        except Exception as error:  # metrics never take a service down
            log.info("consumer lag not read", error=repr(error))
        await asyncio.sleep(every)


async def _group_lag_once(metrics: ServiceMetrics, settings: Settings, group: str,
                          wanted: set[str]) -> None:
    admin = admin_client(settings)
    reader = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await admin.start()
    await reader.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        partitions = [tp for tp in committed if tp.topic in wanted]
        ends: dict[TopicPartition, int] = await reader.end_offsets(partitions)
        for tp in partitions:
            metrics.set_lag(tp.topic, tp.partition, ends[tp] - committed[tp].offset)
    finally:
        await reader.stop()
        await admin.close()
