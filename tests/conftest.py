"""Fixtures that find or start the real servers the integration and e2e tests talk to.

Order of preference, for each server:
1. the one named by an environment variable (`KAFKA_BOOTSTRAP_SERVERS`, `LOYALTY_POSTGRES_DSN`);
2. a container from testcontainers, when a Docker engine answers;
3. the project's own scripts (`deploy/kafka.sh`, `deploy/postgres.sh`), which need no Docker.
Unit tests use none of these fixtures and need no server.

The extra brokers (`secure_kafka`, `kafka_cluster`) always come from `deploy/kafka.sh`, which
needs Java 17 and openssl; see tests/support/brokers.py.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from services.domain import ids
from tests.support import brokers
from tests.support.pipeline import SERVICES, Organiser, Pipeline, contract_problems

ROOT = Path(__file__).resolve().parent.parent

ids.use_index_key(b"the index key of the tests' in-memory stores")
"""The index key of every in-memory store (a store on PostgreSQL brings its own)."""
LOCAL_KAFKA = "127.0.0.1:9092"
LOCAL_POSTGRES = "postgresql://loyalty_owner:loyalty_owner@127.0.0.1:5432/loyalty"
"""The owner role of deploy/postgres.sh: it may create databases (the services' role may not)."""
SERVICE_ROLE = ("loyalty", "loyalty")
"""The services' role of deploy/postgres.sh (no superuser, rows only)."""


def service_dsn(owner_dsn: str) -> str:
    """The DSN of the services' role on the database of `owner_dsn` (the same DSN when the
    server was not started by the project's scripts: one role then does everything)."""
    if not owner_dsn.startswith("postgresql://loyalty_owner:"):
        return owner_dsn
    user, password = SERVICE_ROLE
    return owner_dsn.replace("loyalty_owner:loyalty_owner@", f"{user}:{password}@", 1)


def docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def run_script(name: str) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(["bash", str(ROOT / "deploy" / name), "start"], check=True, env=env)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a real Kafka broker."""
    if named := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield named
    elif docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
    else:
        run_script("kafka.sh")
        yield LOCAL_KAFKA


def needs_java_and_openssl() -> None:
    missing = [tool for tool in ("java", "openssl") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"deploy/kafka.sh needs {' and '.join(missing)}")


@pytest.fixture(scope="session")
def secure_kafka() -> Iterator[str]:
    """Bootstrap of the SASL_SSL broker of `deploy/kafka.sh secure` (127.0.0.1:19092), for the
    session; stopped afterwards unless it was running before. Connect with
    `brokers.secure_kafka_options()`. Measured on two cores busy with other tests: 9-13 s from
    nothing (CA, certificate, SCRAM users, storage), 8-14 s with its state kept from an earlier
    run, 0.02 s when it runs already."""
    needs_java_and_openssl()
    with brokers.running("secure"):
        yield brokers.SECURE_BOOTSTRAP


@pytest.fixture(scope="session")
def kafka_cluster() -> Iterator[str]:
    """Bootstrap of the three-node cluster of `deploy/kafka.sh cluster` (127.0.0.1:29092-29094),
    for the session; stopped afterwards unless it was running before. Starting it, until a record
    is acknowledged by all three replicas and every partition is in sync, measured on two cores
    busy with other tests: 11-24 s from nothing, 13-25 s with state kept from an earlier run,
    0.4 s when it runs already. Stopping it takes about 8 s."""
    needs_java_and_openssl()
    with brokers.running("cluster"):
        yield brokers.CLUSTER_BOOTSTRAP


@pytest.fixture(scope="session")
def postgres_server_dsn() -> Iterator[str]:
    """DSN of a real PostgreSQL server whose role may create databases (and owns them)."""
    if named := os.environ.get("LOYALTY_POSTGRES_DSN"):
        yield named
    elif docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver=None) as postgres:
            yield postgres.get_connection_url()
    else:
        run_script("postgres.sh")
        yield LOCAL_POSTGRES


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server_dsn: str) -> Iterator[str]:
    """DSN of a fresh database of its own for this test session, dropped afterwards."""
    yield from scratch_database(postgres_server_dsn)


def scratch_database(server_dsn: str) -> Iterator[str]:
    """Creates a uniquely named database on the server, yields its DSN, drops it."""
    name = f"loyalty_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = server_dsn.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        drop_database(server_dsn, name)


def drop_database(server_dsn: str, name: str) -> None:
    """Drops a test database, ending its connections. An autovacuum worker busy in it cannot
    be ended by a role that is no superuser (PostgreSQL refuses with InsufficientPrivilege):
    then it is tried again until the worker is done."""
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(server_dsn, autocommit=True) as conn:
                conn.execute(drop)
            return
        except psycopg.errors.InsufficientPrivilege:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def topic_prefix() -> str:
    """A prefix that gives each test its own topics on the shared broker."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture(scope="module")
def module_postgres_dsn(postgres_server_dsn: str) -> Iterator[str]:
    """DSN of a fresh database of its own for one test module."""
    yield from scratch_database(postgres_server_dsn)


@pytest.fixture(scope="module")
def pipeline(kafka_bootstrap: str, module_postgres_dsn: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Intake, processor, relay and projections running on topics and a database of their
    own, for one test module. At its end, every record the services wrote to the items,
    results, events and dead-letter topics is checked against the published contracts."""
    log_dir: Path = tmp_path_factory.mktemp("logs")
    running = Pipeline(kafka_bootstrap, module_postgres_dsn, f"e2e{uuid.uuid4().hex[:8]}.",
                       log_dir)
    running.prepare()
    for name in SERVICES:
        running.start(name, *SERVICES[name])
    try:
        yield running
        problems = contract_problems(running)
    finally:
        running.stop_all()
        running.delete_topics()
    assert not problems, "records that break docs/contracts/:\n" + "\n".join(problems[:10])


@pytest.fixture(scope="module")
def organiser(pipeline: Pipeline) -> Iterator[Organiser]:
    """An organiser producing commands to the module's pipeline and collecting its results."""
    client = Organiser(pipeline)
    try:
        yield client
    finally:
        client.close()
