"""`loyalty run`: which children it starts, and metrics ports that stay where they are whatever
else runs (`--scale`, `--service`), so that a scrape configuration can name them."""

from pathlib import Path

import pytest
import yaml

from services.settings import METRICS_PORTS, Settings
from services.supervisor import MAX_INSTANCES, children_of, instance_counts, metrics_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["intake", "processor", "relay", "projections-run", "clock", "api"]


def ports(counts: dict[str, int], settings: Settings | None = None) -> dict[str, int]:
    children = children_of(counts, settings or Settings())
    return {child.name: int(child.env["LOYALTY_METRICS_PORT"]) for child in children}


def test_one_instance_each_is_on_the_services_default_ports() -> None:
    found = ports(dict.fromkeys(SERVICES, 1))

    assert found == {"intake": 9401, "processor": 9402, "relay": 9403, "projections-run": 9404,
                     "clock": 9405, "api": 0}
    assert {found[name] for name in found if name != "api"} == {
        port for service, port in METRICS_PORTS.items() if service != "run"}


def test_scaling_a_service_moves_no_other_service_s_port() -> None:
    counts = dict.fromkeys(SERVICES, 1) | instance_counts(["processor=3", "intake=2"], SERVICES)

    found = ports(counts)

    assert found == {"intake": 9401, "intake-2": 9412, "processor": 9402,
                     "processor-2": 9422, "processor-3": 9423, "relay": 9403,
                     "projections-run": 9404, "clock": 9405, "api": 0}


def test_running_some_services_only_moves_none_either() -> None:
    assert ports({"clock": 1, "relay": 1}) == {"clock": 9405, "relay": 9403}


def test_ports_follow_the_supervisor_s_own_and_none_collide() -> None:
    base = 21000
    counts = {"intake": MAX_INSTANCES, "processor": MAX_INSTANCES, "relay": 1,
              "projections-run": 1, "clock": 1}

    found = ports(counts, Settings(metrics_port=base))

    assert len(set(found.values())) == len(found) == 2 * MAX_INSTANCES + 3
    assert base not in found.values(), "the supervisor's own"
    assert all(base < port < base + 30 for port in found.values())
    assert found["processor-9"] == base + 29


def test_metrics_off_stays_off() -> None:
    assert set(ports({"intake": 2, "clock": 1}, Settings(metrics_port=0)).values()) == {0}


def test_the_fault_suite_s_names_get_the_same_ports() -> None:
    assert metrics_port(9400, "run") == 9400
    assert metrics_port(9400, "projections") == metrics_port(9400, "projections-run") == 9404


@pytest.mark.parametrize("scale", ["processor=10", "relay=2", "processor=0", "nobody=1"])
def test_impossible_scales_are_refused(scale: str) -> None:
    with pytest.raises(ValueError):
        instance_counts([scale], SERVICES)


def test_the_scrape_configuration_names_the_ports_loyalty_run_gives() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    targets = {job["job_name"]: target for job in config["scrape_configs"]
               for group in job["static_configs"] for target in group["targets"]}

    assert targets.pop("loyalty-api") == f"127.0.0.1:{Settings().http_port}"
    assert targets == {f"loyalty-{service}": f"127.0.0.1:{metrics_port(9400, service)}"
                       for service in METRICS_PORTS}
