"""Fixtures of the fault suite: one running system per module, observed from outside."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.system import Ledger, Results, Sent, System
from tests.support.pipeline import delete_topics_with_prefix


@pytest.fixture(scope="module")
def system(kafka_bootstrap: str, module_postgres_dsn: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """`loyalty run` with every service, on topics and a database of its own."""
    log_dir: Path = tmp_path_factory.mktemp("faults")
    running = System(kafka_bootstrap, module_postgres_dsn, f"f{uuid.uuid4().hex[:8]}.",
                     log_dir)
    running.start()
    try:
        yield running
    finally:
        running.stop()
        import asyncio

        asyncio.run(delete_topics_with_prefix(kafka_bootstrap, running.prefix))


@pytest.fixture(scope="module")
def sent() -> Sent:
    return Sent()


@pytest.fixture(scope="module")
def results(system: System) -> Iterator[Results]:
    collector = Results(system)
    try:
        yield collector
    finally:
        collector.close()


@pytest.fixture(scope="module")
def ledger(system: System, sent: Sent, results: Results) -> Ledger:
    return Ledger(system, sent, results)
