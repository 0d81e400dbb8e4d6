"""Metrics by Prometheus' conventions, without servers: every registry has the process and
Python collectors, counters end in `_total`, durations are `_seconds` histograms, lag is never
reported twice, the watchdog's verdicts are gauges, and the API never scans a table per
scrape."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.adapters.health import Watchdog, WatchdogCollector
from services.adapters.metrics import ServiceMetrics
from services.api.metrics import ApiMetrics

SERVICES = ("run", "intake", "processor", "relay", "projections", "clock")


def families(registry: CollectorRegistry) -> dict[str, Any]:
    text = generate_latest(registry).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def registries() -> list[CollectorRegistry]:
    return [*(ServiceMetrics(service).registry for service in SERVICES), ApiMetrics().registry]


@pytest.mark.parametrize("registry", registries(), ids=[*SERVICES, "api"])
def test_every_registry_has_the_process_and_python_collectors(
        registry: CollectorRegistry) -> None:
    found = families(registry)
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds",
            "python_info", "python_gc_collections"} <= set(found)


@pytest.mark.parametrize("registry", registries(), ids=[*SERVICES, "api"])
def test_counters_end_in_total_and_durations_are_seconds_histograms(
        registry: CollectorRegistry) -> None:
    text = generate_latest(registry).decode()
    for line in text.splitlines():
        if line.startswith("# TYPE loyalty_"):
            _, _, name, kind = line.split()
            assert kind != "gauge" or not name.endswith(("_total", "_processed")), name
            if "duration" in name or "latency" in name:
                assert (kind, name.endswith("_seconds")) == ("histogram", True), name
    counters = [family for family in text_string_to_metric_families(text)
                if family.type == "counter" and family.name.startswith("loyalty_")]
    assert counters
    for family in counters:
        assert f"# TYPE {family.name}_total counter" in text or \
            f"# TYPE {family.name} counter" in text
        assert all(sample.name in (f"{family.name}_total", f"{family.name}_created")
                   for sample in family.samples)


def test_the_api_s_durations_and_counts_have_their_conventional_names() -> None:
    found = families(ApiMetrics().registry)
    assert found["loyalty_http_request_duration_seconds"].type == "histogram"
    assert "loyalty_http_request_seconds" not in found
    assert "loyalty_items_processed" not in found
    assert found["loyalty_item_outcomes"].type == "gauge"
    assert found["loyalty_logins"].type == "counter"


def lag_samples(metrics: ServiceMetrics) -> dict[str, float]:
    return {sample.labels["partition"]: sample.value
            for sample in families(metrics.registry)["loyalty_consumer_lag"].samples}


def test_the_lag_of_a_partition_no_longer_assigned_is_dropped() -> None:
    metrics = ServiceMetrics("processor")
    metrics.set_lags("items", {0: 5, 1: 7, 2: 9})
    metrics.set_lags("items", {0: 4}, assigned=[0, 1])

    assert lag_samples(metrics) == {"0": 4, "1": 7}, "1 keeps its figure, 2 is someone else's"
    metrics.set_lags("items", {})
    assert lag_samples(metrics) == {}


def test_the_watchdog_s_verdicts_are_gauges() -> None:
    registry = CollectorRegistry()
    watchdog = Watchdog("relay", stuck_after=60)
    registry.register(WatchdogCollector(watchdog))
    watchdog.available("the broker")
    watchdog.unavailable("the event store")

    found = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
             for family in families(registry).values() for sample in family.samples}

    assert found[("loyalty_service_ready", (("service", "relay"),))] == 0
    assert found[("loyalty_dependency_unavailable",
                  (("dependency", "event-store"), ("service", "relay")))] == 1
    assert found[("loyalty_dependency_unavailable",
                  (("dependency", "broker"), ("service", "relay")))] == 0
    assert found[("loyalty_seconds_without_progress", (("service", "relay"),))] == 0
    watchdog.available("the event store")
    ready = families(registry)["loyalty_service_ready"].samples[0]
    assert ready.value == 1


class DownPool:
    """A pool whose database does not answer."""

    @asynccontextmanager
    async def connection(self, **_: Any) -> AsyncIterator[Any]:
        raise OSError("connection refused")
        yield


class CountingMetrics(ApiMetrics):
    """The API's metrics, counting (without a database) how often they count."""

    def __init__(self, clock: list[float]) -> None:
        super().__init__(count_every=60, clock=lambda: clock[0])
        self.counts = 0

    async def count(self, pool: Any) -> None:
        self.counts += 1
        self.counted_at = self.clock()


def test_a_scrape_with_the_database_away_still_answers_and_says_so() -> None:
    metrics = ApiMetrics()
    metrics.requests.labels("GET", "/healthz", 200).inc()

    text = asyncio.run(metrics.scrape(DownPool(), stuck_after=60)).decode()  # type: ignore[arg-type]

    assert 'loyalty_dependency_unavailable{dependency="database",service="api"} 1.0' in text
    assert 'loyalty_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text


def test_scrapes_count_the_tables_at_most_every_count_interval() -> None:
    clock = [1000.0]
    metrics = CountingMetrics(clock)

    async def scrapes(times: int) -> None:
        for _ in range(times):
            await metrics.scrape(DownPool(), stuck_after=60)  # type: ignore[arg-type]
            await asyncio.sleep(0)

    async def scenario() -> list[int]:
        seen = []
        await scrapes(5)
        seen.append(metrics.counts)
        clock[0] += 59
        await scrapes(5)
        seen.append(metrics.counts)
        clock[0] += 2
        await scrapes(5)
        seen.append(metrics.counts)
        return seen

    assert asyncio.run(scenario()) == [1, 1, 2]
