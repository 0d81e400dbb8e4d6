"""The project's own scripts: starting twice is harmless; stop, then start again, works.

Runs only where the scripts own the servers (no server named in the environment, no Docker
engine): it stops and restarts them, as an operator would.
"""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import LOCAL_POSTGRES, docker_answers

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("LOYALTY_HOME", Path.home() / ".cache" / "loyalty"))
NAMED_OR_CONTAINED = bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
                          or os.environ.get("LOYALTY_POSTGRES_DSN") or docker_answers())


def started_by_scripts(mark: str) -> bool:
    """Whether the scripts started this server (they stop only what they started)."""
    return not NAMED_OR_CONTAINED and (STATE / mark).exists()


def script(name: str, action: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["bash", str(ROOT / "deploy" / name), action], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.skipif(not started_by_scripts("kafka/broker.pid"), reason="not the scripts' broker")
def test_the_broker_starts_twice_harmlessly_then_stops_and_starts_again(
    kafka_bootstrap: str,
) -> None:
    again = script("kafka.sh", "start")
    assert again.returncode == 0 and "already running" in again.stderr

    assert script("kafka.sh", "stop").returncode == 0
    assert script("kafka.sh", "status").returncode != 0

    assert script("kafka.sh", "start").returncode == 0
    assert script("kafka.sh", "status").returncode == 0


@pytest.mark.skipif(not started_by_scripts("postgres.started"), reason="not the scripts' server")
def test_the_database_starts_twice_harmlessly_and_keeps_its_data(postgres_server_dsn: str) -> None:
    assert script("postgres.sh", "start").returncode == 0
    with psycopg.connect(LOCAL_POSTGRES, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS deploy_probe (n int)")
        conn.execute("INSERT INTO deploy_probe VALUES (1)")

    assert script("postgres.sh", "stop").returncode == 0
    assert script("postgres.sh", "status").returncode != 0
    assert script("postgres.sh", "start").returncode == 0

    with psycopg.connect(LOCAL_POSTGRES, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM deploy_probe").fetchone()[0] >= 1  # type: ignore[index]
        conn.execute("DROP TABLE deploy_probe")
