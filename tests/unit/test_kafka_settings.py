"""Kafka's security and durability settings, offline: what is refused at start and why, the
keyword arguments every aiokafka client gets, what a refused connection is reported as, and
how a topic that differs from the settings is described. No password is ever shown."""

import asyncio
import ssl
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import certifi
import pytest
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed
from pydantic import ValidationError

from services.adapters.kafka import client_options, producer
from services.adapters.kafka_access import refusal
from services.adapters.kafka_topics import (
    TopicLayout,
    TopicsNotCreatedError,
    create,
    differences,
    wanted_layout,
)
from services.settings import Settings, problems_of

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "p4ssw0rd-never-shown"
CA = certifi.where()
SASL_SSL: dict[str, Any] = {
    "kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "loyalty-intake", "kafka_sasl_password": PASSWORD,
    "kafka_ssl_cafile": CA}


def refused(**settings: Any) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        Settings(**settings)
    assert PASSWORD not in str(raised.value)
    return problems_of(raised.value)


def test_the_default_is_plaintext_to_the_local_broker() -> None:
    assert client_options(Settings()) == {"bootstrap_servers": "127.0.0.1:9092",
                                          "security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_every_producer_compresses_as_the_settings_say(codec: str) -> None:
    """Each codec's library is installed: aiokafka refuses to make a producer without it,
    which would stop every service at its start."""

    async def compression() -> str | None:
        made = producer(Settings(kafka_compression=codec))
        try:
            return made._compression_type  # aiokafka has no public accessor
        finally:
            await made.stop()

    assert asyncio.run(compression()) == (None if codec == "none" else codec)


def test_an_unknown_codec_is_refused_naming_the_variable() -> None:
    assert "LOYALTY_KAFKA_COMPRESSION" in str(refused(kafka_compression="brotli"))


@pytest.mark.parametrize("linger_ms", [0, 20])
def test_every_producer_lingers_as_the_settings_say(linger_ms: int) -> None:
    async def linger() -> float:
        made = producer(Settings(kafka_linger_ms=linger_ms))
        try:
            return made._message_accumulator._linger_time  # no public accessor
        finally:
            await made.stop()

    assert asyncio.run(linger()) == linger_ms / 1000


def test_a_negative_or_huge_linger_is_refused_naming_the_variable() -> None:
    assert "LOYALTY_KAFKA_LINGER_MS" in str(refused(kafka_linger_ms=-1))
    assert "LOYALTY_KAFKA_LINGER_MS" in str(refused(kafka_linger_ms=60_000))


def test_sasl_ssl_gives_every_client_credentials_and_a_tls_context_that_checks_the_broker(
) -> None:
    options = client_options(Settings(**SASL_SSL))

    assert {key: value for key, value in options.items() if key != "ssl_context"} == {
        "bootstrap_servers": "127.0.0.1:9092", "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "loyalty-intake",
        "sasl_plain_password": PASSWORD}
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_ssl_alone_uses_the_systems_cas_when_no_ca_is_named() -> None:
    options = client_options(Settings(kafka_security_protocol="SSL"))

    assert options["security_protocol"] == "SSL"
    assert options["ssl_context"].cert_store_stats()["x509_ca"] > 0
    assert "sasl_mechanism" not in options


def test_protocol_and_mechanism_are_read_in_any_case() -> None:
    settings = Settings(**{**SASL_SSL, "kafka_security_protocol": "sasl_ssl",
                           "kafka_sasl_mechanism": "scram-sha-256"})
    assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == (
        "SASL_SSL", "SCRAM-SHA-256")


@pytest.mark.parametrize(("settings", "complaint"), [
    ({"kafka_security_protocol": "SASL_SSL"},
     "LOYALTY_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs LOYALTY_KAFKA_SASL_MECHANISM"),
    ({**SASL_SSL, "kafka_sasl_password": ""},
     "LOYALTY_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs LOYALTY_KAFKA_SASL_PASSWORD"),
    ({**SASL_SSL, "kafka_sasl_username": None},
     "LOYALTY_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs LOYALTY_KAFKA_SASL_USERNAME"),
    ({"kafka_sasl_mechanism": "PLAIN"},
     "LOYALTY_KAFKA_SASL_MECHANISM is set, but LOYALTY_KAFKA_SECURITY_PROTOCOL=PLAINTEXT uses "
     "no SASL"),
    ({"kafka_security_protocol": "SSL", "kafka_sasl_password": PASSWORD},
     "LOYALTY_KAFKA_SASL_PASSWORD is set, but LOYALTY_KAFKA_SECURITY_PROTOCOL=SSL uses no SASL"),
    ({"kafka_ssl_cafile": CA}, "LOYALTY_KAFKA_SSL_CAFILE is set, but "
     "LOYALTY_KAFKA_SECURITY_PROTOCOL=PLAINTEXT uses no TLS"),
    ({**SASL_SSL, "kafka_ssl_cafile": "/nowhere/ca.pem"},
     "LOYALTY_KAFKA_SSL_CAFILE: /nowhere/ca.pem does not exist"),
    ({**SASL_SSL, "kafka_ssl_certfile": "/"}, "LOYALTY_KAFKA_SSL_CERTFILE: / is not a file"),
    ({**SASL_SSL, "kafka_ssl_keyfile": CA},
     "LOYALTY_KAFKA_SSL_KEYFILE is set without LOYALTY_KAFKA_SSL_CERTFILE"),
    ({**SASL_SSL, "kafka_ssl_key_password": PASSWORD},
     "LOYALTY_KAFKA_SSL_KEY_PASSWORD is set without a client key"),
    ({"kafka_security_protocol": "TLS"},
     "LOYALTY_KAFKA_SECURITY_PROTOCOL: Input should be 'PLAINTEXT', 'SSL', 'SASL_PLAINTEXT' or "
     "'SASL_SSL'"),
    ({**SASL_SSL, "kafka_sasl_mechanism": "GSSAPI"}, "LOYALTY_KAFKA_SASL_MECHANISM: Input "
     "should be 'PLAIN', 'SCRAM-SHA-256' or 'SCRAM-SHA-512'"),
    ({"topic_replication_factor": 3, "topic_min_insync_replicas": 4},
     "LOYALTY_TOPIC_MIN_INSYNC_REPLICAS (4) exceeds LOYALTY_TOPIC_REPLICATION_FACTOR (3)"),
    ({"topic_replication_factor": 0},
     "LOYALTY_TOPIC_REPLICATION_FACTOR: Input should be greater than or equal to 1"),
])
def test_settings_that_cannot_work_are_refused_naming_the_variable(
    settings: dict[str, Any], complaint: str
) -> None:
    problems = refused(**settings)
    assert any(problem.startswith(complaint) for problem in problems), problems


def test_every_problem_is_named_at_once() -> None:
    problems = refused(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile="/nowhere")
    assert len(problems) == 4, problems


def test_the_password_is_never_shown() -> None:
    settings = Settings(**SASL_SSL, kafka_ssl_key_password=None)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert PASSWORD not in repr(settings.model_dump())


def test_a_service_with_settings_that_cannot_work_says_why_and_exits_78() -> None:
    env = {"PATH": "/usr/bin:/bin", "LOYALTY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
           "LOYALTY_KAFKA_SASL_PASSWORD": PASSWORD, "LOYALTY_KAFKA_SSL_CAFILE": "/nowhere"}
    started = subprocess.run([sys.executable, "-m", "services.cli", "intake"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=60, check=False)

    assert started.returncode == 78
    assert started.stderr.startswith("loyalty: the settings are not valid:\n")
    assert "needs LOYALTY_KAFKA_SASL_MECHANISM" in started.stderr
    assert "LOYALTY_KAFKA_SSL_CAFILE: /nowhere does not exist" in started.stderr
    assert "Traceback" not in started.stderr and PASSWORD not in started.stderr


def test_a_ca_file_that_is_no_certificate_is_refused_when_clients_are_made(
    tmp_path: Path
) -> None:
    from services.adapters.kafka_access import KafkaAccessError

    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(KafkaAccessError, match="LOYALTY_KAFKA_SSL_CAFILE"):
        client_options(Settings(**{**SASL_SSL, "kafka_ssl_cafile": str(junk)}))


SECURE = Settings(**SASL_SSL, kafka_bootstrap_servers="kafka:9093")


@pytest.mark.parametrize(("logged", "cause"), [
    (SaslAuthenticationFailed("Authentication failed: Invalid username or password"),
     "refused the credentials: authentication failed (SCRAM-SHA-512, user 'loyalty-intake')"),
    (ssl.SSLCertVerificationError(1, "certificate verify failed"),
     "TLS failed, the broker's certificate is not trusted"),
    (ssl.SSLError(1, "tlsv13 alert certificate required"), "the TLS handshake failed"),
    (KafkaConnectionError("Connection at kafka:9093 closed"),
     "closed the connection at once: its listener expects another security protocol than "
     "SASL_SSL"),
    (ConnectionResetError(104, "Connection reset by peer"),
     "reset the connection during the TLS handshake"),
])
def test_a_refused_connection_names_its_likely_cause(logged: BaseException, cause: str) -> None:
    said = refusal([ConnectionRefusedError(111, "refused"), logged], SECURE)

    assert said is not None and said.startswith("Kafka at kafka:9093")
    assert cause in said
    assert PASSWORD not in said


def test_a_broker_that_does_not_answer_is_no_refusal() -> None:
    assert refusal([ConnectionRefusedError(111, "refused"), TimeoutError()], SECURE) is None
    assert refusal([ConnectionResetError(104, "reset")], Settings()) is None


def test_the_durable_settings_shape_the_topics_created() -> None:
    wanted = wanted_layout(Settings(topic_partitions=12, topic_replication_factor=3,
                                    topic_min_insync_replicas=2))

    assert (wanted.partitions, wanted.replication_factor) == (12, 3)
    assert wanted.configs() == {"min.insync.replicas": "2", "max.message.bytes": "4194304"}


def test_a_topic_that_differs_is_described_part_by_part() -> None:
    wanted = TopicLayout(8, 3, 2, 4194304)

    assert differences("loyalty.items", wanted, wanted) is None
    assert differences("loyalty.items", TopicLayout(4, 1, 1, 1048588), wanted) == (
        "loyalty.items: partitions 4 (LOYALTY_TOPIC_PARTITIONS is 8), replication factor 1 "
        "(LOYALTY_TOPIC_REPLICATION_FACTOR is 3), min.insync.replicas 1 "
        "(LOYALTY_TOPIC_MIN_INSYNC_REPLICAS is 2), max.message.bytes 1048588 (the services' "
        "records need 4194304)")
    assert differences("loyalty.items", TopicLayout(8, 3, None, None), wanted) is None


class CreatingAdmin:
    """The broker's answer to CreateTopics, one error code per topic (a fake admin client)."""

    def __init__(self, codes: dict[str, int]) -> None:
        self.codes = codes

    async def create_topics(self, topics: list[Any]) -> Any:
        return SimpleNamespace(topic_errors=[(topic.name, self.codes[topic.name], "said")
                                             for topic in topics])


def test_topics_created_elsewhere_meanwhile_are_no_error() -> None:
    admin = CreatingAdmin({"a": 0, "b": 36})
    assert asyncio.run(create(admin, ["a", "b"], TopicLayout(8, 3, 2, 4194304))) == {"a"}


def test_topics_the_principal_may_not_create_are_left_to_prepare() -> None:
    admin = CreatingAdmin({"a": 29})
    with pytest.raises(TopicsNotCreatedError, match="`loyalty prepare` does"):
        asyncio.run(create(admin, ["a"], TopicLayout(8, 3, 2, 4194304)))
