"""The pipeline through the SASL_SSL broker of `deploy/kafka.sh secure`: every service, the
prepare step and the organiser's clients on TLS with SCRAM-SHA-512; a command in, both results
out, the customer readable. A wrong password or a CA that did not sign the broker's certificate
is a clear error at start-up, not a service that retries for ever."""

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import brokers
from tests.support.commands import accrual, add, outcome, unique
from tests.support.pipeline import ROOT, SERVICES, Organiser, Pipeline

pytestmark = pytest.mark.brokers

MECHANISM = "SCRAM-SHA-512"
EXIT_REFUSED = 78
REFUSED_WITHIN = 30.0
"""Seconds from starting a service to its exit when the broker refuses it: the interpreter's
start and one refused connection (about 1 s measured), with room for a busy machine."""


@pytest.fixture(scope="module")
def secure_pipeline(secure_kafka: str, module_postgres_dsn: str,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Every service, and the API, as child processes that reach Kafka over SASL_SSL only."""
    running = Pipeline(secure_kafka, module_postgres_dsn, f"sec{uuid.uuid4().hex[:8]}.",
                       tmp_path_factory.mktemp("secure"),
                       extra_env=brokers.secure_environment(MECHANISM))
    running.prepare()
    for name, args in SERVICES.items():
        running.start(name, *args)
    try:
        running.start_api()
        yield running
    finally:
        running.stop_all()
        running.delete_topics()


@pytest.fixture(scope="module")
def secure_organiser(secure_pipeline: Pipeline) -> Iterator[Organiser]:
    client = Organiser(secure_pipeline)
    try:
        yield client
    finally:
        client.close()


def test_a_command_through_sasl_ssl_is_answered_twice_and_its_customer_is_readable(
    secure_pipeline: Pipeline, secure_organiser: Organiser
) -> None:
    item = accrual(unique("secure"), amount="42.50")
    command_id = secure_organiser.send(add(item))

    validation = secure_organiser.validation(command_id)
    processed = outcome(secure_organiser, item["guid"])
    customer = httpx.get(f"{secure_pipeline.api_url}/v1/customers/{item['uniqId']}",
                         headers={"X-Api-Key": "dev-key"}, timeout=30)

    assert [r["status"] for r in validation["results"]] == ["Success"]
    assert (processed["status"], processed["login"]) == ("Success", item["uniqId"])
    assert customer.status_code == 200
    assert customer.json()["balance"] == "42.50"


def test_the_gateway_produces_through_sasl_ssl(
    secure_pipeline: Pipeline, secure_organiser: Organiser
) -> None:
    item = accrual(unique("gateway"))
    response = httpx.post(f"{secure_pipeline.api_url}/v1/commands", json=add(item),
                          headers={"X-Api-Key": "dev-key"}, timeout=30)

    assert response.status_code == 200
    assert outcome(secure_organiser, item["guid"])["status"] == "Success"


def test_no_log_shows_the_password(secure_pipeline: Pipeline,
                                   secure_organiser: Organiser) -> None:
    logs = list(secure_pipeline.log_dir.glob("*.log"))

    assert {log.stem for log in logs} >= {*SERVICES, "api"}
    for log in logs:
        assert brokers.SECURE_PASSWORD not in log.read_text(errors="replace"), log.name


def start_refused(env: dict[str, str], *command: str) -> tuple[int, str, float]:
    """Runs `loyalty COMMAND` until it exits: (status, what it wrote, seconds it took)."""
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "services.cli", *command], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - began


@pytest.mark.parametrize("command", [("intake",), ("projections", "run"), ("prepare",)],
                         ids=["intake", "projections", "prepare"])
def test_a_wrong_password_is_a_clear_error_at_start(secure_pipeline: Pipeline,
                                                    command: tuple[str, ...]) -> None:
    wrong = "not-the-password-" + uuid.uuid4().hex[:6]
    env = {**secure_pipeline.env, "LOYALTY_KAFKA_SASL_PASSWORD": wrong}

    status, said, seconds = start_refused(env, *command)

    assert status == EXIT_REFUSED, said[-2000:]
    assert "refused the credentials: authentication failed" in said
    assert "LOYALTY_KAFKA_SASL_PASSWORD" in said
    assert seconds < REFUSED_WITHIN
    assert wrong not in said
    assert brokers.SECURE_PASSWORD not in said


def test_a_broker_certificate_from_another_ca_is_a_clear_error_at_start(
    secure_pipeline: Pipeline, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=Some other CA", "-keyout", str(tmp_path / "other-ca.key"),
                    "-out", str(other_ca)], check=True, capture_output=True)
    env = {**secure_pipeline.env, "LOYALTY_KAFKA_SSL_CAFILE": str(other_ca)}

    status, said, seconds = start_refused(env, "processor")

    assert status == EXIT_REFUSED, said[-2000:]
    assert "TLS failed, the broker's certificate is not trusted" in said
    assert "LOYALTY_KAFKA_SSL_CAFILE" in said
    assert seconds < REFUSED_WITHIN


def test_a_plaintext_client_of_the_tls_listener_is_told_to_check_the_protocol(
    secure_pipeline: Pipeline
) -> None:
    env = {name: value for name, value in secure_pipeline.env.items()
           if not name.startswith(("LOYALTY_KAFKA_SASL_", "LOYALTY_KAFKA_SSL_"))}
    env["LOYALTY_KAFKA_SECURITY_PROTOCOL"] = "PLAINTEXT"

    status, said, seconds = start_refused(env, "relay")

    assert status == EXIT_REFUSED, said[-2000:]
    assert "closed the connection at once" in said
    assert "LOYALTY_KAFKA_SECURITY_PROTOCOL" in said
    assert seconds < REFUSED_WITHIN
