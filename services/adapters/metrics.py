"""Prometheus metrics of the pipeline's services, each on a port of its own.

Every service counts the records it handled, its errors and its dead letters, and reports its
consumer lag per partition; the relay observes each item's end-to-end latency; `loyalty run`
reports restarts. Each registry also has the process and Python collectors (CPU, memory, file
descriptors, garbage collections). `serve_metrics` exposes a registry on
`LOYALTY_METRICS_HOST:LOYALTY_METRICS_PORT` (port 0: not exposed), for operators only: no
figure here names a programme or a customer. docs/architecture.md lists every metric.
"""

import asyncio
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

from services.adapters.kafka import admin_client, client_options
from services.settings import Settings

log = structlog.get_logger(__name__)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Seconds from a command on `loyalty.commands` to its items' stage-2 results: from tens of
milliseconds when idle to minutes under a backlog."""


def runtime_registry() -> CollectorRegistry:
    """A registry of its own with the process's figures (`process_*`: CPU, memory, open file
    descriptors, start time) and the interpreter's (`python_info`, `python_gc_*`)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class ServiceMetrics:
    """The metrics of one service, in a registry of its own."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = runtime_registry()
        registry = self.registry
        self.records = Counter("loyalty_records", "Records handled, by topic and outcome.",
                               ["service", "topic", "outcome"], registry=registry)
        self.errors = Counter("loyalty_errors", "Failures, retried or not, by kind.",
                              ["service", "kind"], registry=registry)
        self.dead_letters = Counter("loyalty_dead_letters", "Records sent to the dead-letter "
                                    "topic.", ["service", "topic"], registry=registry)
        self.lag = Gauge("loyalty_consumer_lag", "Records on a partition not yet handled.",
                         ["service", "topic", "partition"], registry=registry)
        self.lag_partitions: dict[str, set[int]] = {}
        """The partitions whose lag is reported, by topic."""
        self.quarantined = Counter("loyalty_events_quarantined", "Events left out of the read "
                                   "models (`loyalty projections verify` lists them).",
                                   ["service"], registry=registry)
        self.restarts = Counter("loyalty_service_restarts", "Services that exited and were "
                                "started again by `loyalty run`.", ["service"],
                                registry=registry)
        self.item_latency = Histogram(
            "loyalty_item_latency_seconds", "Seconds from a command's record on the commands "
            "topic (its Kafka timestamp) to the stage-2 result of one of its items published "
            "(the relay, once the broker acknowledged it).", ["service"],
            buckets=LATENCY_BUCKETS, registry=registry)
        self.own_item_latency: Histogram | None = None
        """This service's latency histogram, looked up at its first item (made at start, it
        would be exported by services that answer none), then kept: it is observed for every
        item."""

    def handled(self, topic: str, count: int = 1, outcome: str = "handled") -> None:
        self.records.labels(self.service, topic, outcome).inc(count)

    def error(self, kind: str) -> None:
        self.errors.labels(self.service, kind).inc()

    def dead_lettered(self, topic: str) -> None:
        self.dead_letters.labels(self.service, topic).inc()

    def set_lags(self, topic: str, lags: Mapping[int, int],
                 assigned: Collection[int] | None = None) -> None:
        """Sets the lag of each partition of `lags`, and drops the figures of partitions not
        `assigned` (by default: not in `lags`) any more: another instance reports them now,
        and a stale figure would be counted twice."""
        reported = self.lag_partitions.setdefault(topic, set())
        kept = set(lags if assigned is None else assigned)
        for partition in reported - kept:
            self.lag.remove(self.service, topic, str(partition))
        reported &= kept
        for partition, lag in lags.items():
            self.lag.labels(self.service, topic, str(partition)).set(max(0, lag))
            reported.add(partition)

    def item_answered(self, seconds: float) -> None:
        """An item's stage-2 result was published `seconds` after its command was produced
        (never below 0: the command's timestamp is the producer's clock)."""
        if self.own_item_latency is None:
            self.own_item_latency = self.item_latency.labels(self.service)
        self.own_item_latency.observe(max(0.0, seconds))


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
        lags: dict[str, dict[int, int]] = defaultdict(dict)
        for tp in partitions:
            lags[tp.topic][tp.partition] = ends[tp] - committed[tp].offset
        for topic in wanted:
            metrics.set_lags(topic, lags[topic])
    finally:
        await reader.stop()
        await admin.close()
