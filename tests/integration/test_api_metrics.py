"""The API's /metrics against PostgreSQL: the read models' figures and the last verification
at every scrape, the counts of customers and item outcomes made in the background at most every
LOYALTY_METRICS_COUNT_SECONDS (never by the scrape itself), and nothing per programme."""

import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from projections.verify import Scope, verify_read_models
from services import bootstrap
from services.settings import Settings
from tests.conftest import scratch_database
from tests.support.workload import PROGRAMMES, record, workload

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(postgres_server_dsn: str) -> Iterator[Settings]:
    """Read models of a small workload, verified once."""
    prefix = f"metrics{uuid.uuid4().hex[:8]}."
    for dsn in scratch_database(postgres_server_dsn):
        config = Settings(postgres_dsn=dsn, dev_mode=True, metrics_count_seconds=3600,
                          items_topic=f"{prefix}items", results_topic=f"{prefix}results",
                          commands_topic=f"{prefix}commands")
        store = bootstrap.event_store(config, create_tables=True)
        record(store, workload()[:120])
        store.close()
        writer = bootstrap.read_models_writer(config, create_tables=True)
        writer.catch_up()
        writer.close()
        verify_read_models(bootstrap.read_models_writer(config), Scope())
        yield config


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(client: TestClient) -> Samples:
    text = client.get("/metrics").text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def counted(client: TestClient, timeout: float = 10) -> Samples:
    """The samples, once the background count has ended."""
    deadline = time.monotonic() + timeout
    while True:
        found = samples(client)
        if any(name == "loyalty_customers" for name, _ in found):
            return found
        assert time.monotonic() < deadline, "the counts never came"
        time.sleep(0.05)


def test_a_scrape_reports_the_read_models_and_counts_in_the_background(
        settings: Settings) -> None:
    with TestClient(bootstrap.api(settings)) as client:
        found = counted(client)
        metrics = client.app.state.resources.metrics  # type: ignore[attr-defined]
        counted_at = metrics.counted_at
        for _ in range(3):
            client.get("/metrics")

        assert metrics.counted_at == counted_at, "no new count within the interval"
    assert found[("loyalty_dependency_unavailable",
                  (("dependency", "database"), ("service", "api")))] == 0
    assert found[("loyalty_verification_differences", ())] == 0
    assert found[("loyalty_verification_finished_timestamp_seconds", ())] > time.time() - 600
    assert found[("loyalty_events_in_quarantine", ())] == 0
    assert found[("loyalty_projection_lag_events", ())] == 0
    outcomes = {(item.programme, item.guid) for item in workload()[:120]}
    assert sum(value for (name, _), value in found.items()
               if name == "loyalty_item_outcomes") == len(outcomes), "one per guid"
    assert any(name == "loyalty_customers" and value > 0 for (name, _), value in found.items())
    labels = {label for (_, pairs) in found for label, _ in pairs}
    assert not labels & {"programme", "customer", "uniq_id"}
    values = {value for (_, pairs) in found for _, value in pairs}
    assert not values & set(PROGRAMMES), "no figure per programme"
