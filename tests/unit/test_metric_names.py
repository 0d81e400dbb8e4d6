"""The dashboard and the alert rules ask only for metrics the services export.

Every service's registry is built in-process as its process builds it (`loyalty run`'s, each
worker's with its watchdog, behind the WSGI application that serves its /metrics; the API
application's) and scraped. The metric names of the dashboard's queries and of the alert rules'
expressions are the identifiers that start with `loyalty_`, `process_` or `python_` once the
quoted label values are taken out (a simple regular expression, not a PromQL parser), and `up`,
which Prometheus itself records for every target of deploy/prometheus.yml.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest, make_wsgi_app
from prometheus_client.parser import text_string_to_metric_families

from services import bootstrap
from services.adapters.health import probes_app, report
from services.settings import METRICS_PORTS, Settings

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "loyalty.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
NAME = re.compile(r"\b(?:loyalty|process|python)_[a-z0-9_]+\b|\bup\b")
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count",
                                                             "_created"),
            "summary": ("_sum", "_count", "_created", "")}


def scraped(app: Any) -> str:
    """The body of `GET /metrics` from a service's WSGI application."""
    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        assert status.startswith("200")

    return b"".join(app({"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET"},
                        start_response)).decode()


def expositions() -> dict[str, str]:
    """Each service's /metrics, as its process would serve it."""
    settings = Settings(dev_mode=True)
    found = {}
    for service in METRICS_PORTS:
        metrics = bootstrap.metrics(service)
        if service == "run":  # `loyalty run` serves its registry alone (serve_metrics)
            app = make_wsgi_app(metrics.registry)
        else:
            watchdog = bootstrap.watchdog(service, settings)
            report(watchdog, metrics)
            app = probes_app(watchdog, metrics)
        found[service] = scraped(app)
    api_metrics = bootstrap.api(settings).state.resources.metrics
    found["api"] = generate_latest(api_metrics.registry).decode()
    return found


def exported() -> set[str]:
    """Every sample name any service can export (with its type's suffixes)."""
    names = {"up"}
    for text in expositions().values():
        for family in text_string_to_metric_families(text):
            names |= {family.name + suffix
                      for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def names_in(expression: str) -> set[str]:
    return set(NAME.findall(QUOTED.sub('""', expression)))


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"]
            for target in panel.get("targets", [])]


def alert_expressions() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


EXPORTED = exported()


@pytest.mark.parametrize("expression", dashboard_expressions() + alert_expressions())
def test_every_metric_asked_for_is_exported_by_some_service(expression: str) -> None:
    asked = names_in(expression)
    assert asked, f"no metric found in {expression!r}"
    assert asked <= EXPORTED, sorted(asked - EXPORTED)


def test_the_name_pattern_sees_through_label_values_and_functions() -> None:
    assert names_in('sum by (job) (up{job=~"loyalty-.*"}) and rate(loyalty_x_total[5m])') == {
        "up", "loyalty_x_total"}
    assert names_in('loyalty_a{service="loyalty_b"}') == {"loyalty_a"}


def test_every_service_exports_the_process_and_python_collectors() -> None:
    for service, text in expositions().items():
        assert "process_cpu_seconds_total" in text and "python_gc_collections_total" in text, \
            service


def test_the_dashboard_is_importable_with_a_prometheus_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    (variable,) = dashboard["templating"]["list"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": f"${{{variable['name']}}}"}
        assert panel["targets"] and all(target["datasource"] == panel["datasource"]
                                        for target in panel["targets"])
    assert dashboard["uid"] and dashboard["title"] and "id" not in dashboard


def test_every_metric_of_the_service_is_documented() -> None:
    documented = (ROOT / "docs" / "architecture.md").read_text()
    for text in expositions().values():
        for family in text_string_to_metric_families(text):
            if family.name.startswith("loyalty_"):
                name = family.name + ("_total" if family.type == "counter" else "")
                assert f"`{name}`" in documented, name
