"""docker-compose.yml, checked offline: valid for the Compose Specification's JSON Schema, and a
health check on /readyz for every loyalty service.

tests/fixtures/compose-spec.json is `schema/compose-spec.json` of the compose-spec/compose-spec
repository (Apache License 2.0), unchanged, at its revision of 2025-10-28 (a08f8d5).
"""

import copy
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from services.settings import METRICS_PORTS

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "compose-spec.json").read_text())
HTTP_PORT = 8080

Compose = dict[str, Any]


def compose() -> Compose:
    """The compose file as compose reads it (YAML merge keys applied; `${...}` left as is)."""
    loaded: Compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def validate(document: Compose) -> None:
    validator = jsonschema.validators.validator_for(SCHEMA)
    validator.check_schema(SCHEMA)
    validator(SCHEMA).validate(document)


def loyalty_services(document: Compose) -> dict[str, Compose]:
    """The services that run the project's image (not Kafka, not PostgreSQL)."""
    return {name: service for name, service in document["services"].items()
            if service.get("image") == "loyalty:local"}


def test_the_compose_file_is_valid_for_the_compose_specification() -> None:
    validate(compose())


def misspelled_healthcheck(document: Compose) -> None:
    document["services"]["relay"]["healtcheck"] = document["services"]["relay"].pop("healthcheck")


def interval_as_a_list(document: Compose) -> None:
    document["services"]["api"]["healthcheck"]["interval"] = ["10s"]


def unknown_condition_field(document: Compose) -> None:
    document["services"]["clock"]["depends_on"]["prepare"]["when"] = "done"


@pytest.mark.parametrize("breaking", [misspelled_healthcheck, interval_as_a_list,
                                      unknown_condition_field])
def test_the_schema_rejects_a_broken_compose_file(breaking: Callable[[Compose], None]) -> None:
    broken = copy.deepcopy(compose())
    breaking(broken)
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def compose_command() -> list[str] | None:
    """An installed Compose (the docker plugin or the standalone command), None without one."""
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_itself_accepts_the_file() -> None:
    """`config` parses, interpolates and validates the file; it needs no Docker engine."""
    command = compose_command()
    if command is None:
        pytest.skip("no docker compose or docker-compose installed")
    placeholders = {name: "placeholder" for name in (
        "POSTGRES_PASSWORD", "LOYALTY_DB_PASSWORD", "LOYALTY_DB_OWNER_PASSWORD",
        "LOYALTY_API_KEYS", "LOYALTY_LINK_SECRET", "LOYALTY_MASTER_KEY")}
    result = subprocess.run([*command, "--project-directory", str(ROOT), "-f",
                             str(ROOT / "docker-compose.yml"), "config", "-q"],
                            env={"PATH": os.environ["PATH"], **placeholders},
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr


def test_every_service_is_checked_on_its_readyz() -> None:
    services = loyalty_services(compose())
    assert set(services) == {"prepare", "intake", "processor", "relay", "projections", "clock",
                             "api"}
    assert services.pop("prepare")["healthcheck"] == {"disable": True}
    for name, service in services.items():
        port = HTTP_PORT if name == "api" else METRICS_PORTS[name]
        check = service["healthcheck"]
        assert check["test"][:3] == ["CMD", "python", "-c"], name
        (url,) = re.findall(r"'(http://[^']+)'", check["test"][3])
        assert url == f"http://127.0.0.1:{port}/readyz", name
        assert {"interval", "timeout", "retries", "start_period"} <= set(check), name
        assert service["depends_on"] == {
            "prepare": {"condition": "service_completed_successfully"}}, name
        assert service["environment"]["LOYALTY_METRICS_HOST"] == "0.0.0.0"


def test_each_secret_reaches_only_the_services_that_read_it() -> None:
    services = loyalty_services(compose())
    holders = {variable: {name for name, service in services.items()
                          if variable in service.get("environment", {})}
               for variable in ("LOYALTY_POSTGRES_OWNER_DSN", "LOYALTY_POSTGRES_DSN",
                                "LOYALTY_API_KEYS", "LOYALTY_LINK_SECRET",
                                "LOYALTY_MASTER_KEY")}
    assert holders == {
        "LOYALTY_POSTGRES_OWNER_DSN": {"prepare"},
        "LOYALTY_POSTGRES_DSN": set(services) - {"intake"},
        "LOYALTY_API_KEYS": {"api"},
        "LOYALTY_LINK_SECRET": {"api"},
        "LOYALTY_MASTER_KEY": {"prepare", "processor", "relay", "projections", "api"},
    }
    for service in services.values():
        assert service["environment"]["LOYALTY_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
