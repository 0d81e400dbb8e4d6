"""The alert rules and the scrape configuration as Prometheus reads them: `promtool check` on
both, and `promtool test rules` on deploy/prometheus/alerts.test.yml (alerts fed with series
and checked at given times). promtool comes from `deploy/prometheus.sh install`, which `make
test` runs; the tests try it once when promtool is missing, and are skipped only when it cannot
be installed."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "prometheus.sh"


def script(action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), action], capture_output=True, text=True,
                          check=False, timeout=300)


@pytest.fixture(scope="module")
def promtool() -> str:
    found = script("path")
    if found.returncode != 0:
        installed = script("install")
        found = script("path")
        if found.returncode != 0:
            pytest.skip("promtool could not be installed by deploy/prometheus.sh install: "
                        + (installed.stderr.strip().splitlines() or ["no output"])[-1])
    return found.stdout.strip()


def run(promtool: str, *arguments: str) -> str:
    done = subprocess.run([promtool, *arguments], capture_output=True, text=True, cwd=ROOT,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_alert_rules_are_valid(promtool: str) -> None:
    assert "SUCCESS" in run(promtool, "check", "rules", "deploy/prometheus/alerts.yml")


def test_the_scrape_configuration_is_valid_and_loads_the_rules(promtool: str) -> None:
    assert "1 rule files found" in run(promtool, "check", "config", "deploy/prometheus.yml")


def test_the_alerts_fire_when_they_should_and_only_then(promtool: str) -> None:
    assert "SUCCESS" in run(promtool, "test", "rules", "deploy/prometheus/alerts.test.yml")
