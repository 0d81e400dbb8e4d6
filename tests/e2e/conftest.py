"""Fixtures of the end-to-end tests: the real services on real Kafka and PostgreSQL."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.pipeline import Organiser, Pipeline


@pytest.fixture(scope="module")
def pipeline(kafka_bootstrap: str, module_postgres_dsn: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Intake, processor and relay running on topics and a database of their own."""
    log_dir: Path = tmp_path_factory.mktemp("logs")
    running = Pipeline(kafka_bootstrap, module_postgres_dsn, f"e2e{uuid.uuid4().hex[:8]}.",
                       log_dir)
    running.prepare()
    for name in ("intake", "processor", "relay"):
        running.start(name)
    try:
        yield running
    finally:
        running.stop_all()
        running.delete_topics()


@pytest.fixture(scope="module")
def organiser(pipeline: Pipeline) -> Iterator[Organiser]:
    client = Organiser(pipeline)
    try:
        yield client
    finally:
        client.close()
