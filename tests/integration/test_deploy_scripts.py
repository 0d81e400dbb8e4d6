"""The project's own scripts: starting twice is harmless; stop, then start again, works; the
roles script of the postgres image takes passwords with quotes and backslashes as they are.

The start and stop tests run only where the scripts own the servers (no server named in the
environment, no Docker engine): they stop and restart them, as an operator would. The roles
test needs root, to act as the local cluster's superuser; it makes scratch roles and a scratch
database, and drops them.
"""

import os
import shutil
import subprocess
import sys
import uuid
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


INJECTED = f"probe_injected_{uuid.uuid4().hex[:8]}"
OWNER_PASSWORD = f"o'wner\\'; CREATE ROLE {INJECTED} NOLOGIN; --"
USER_PASSWORD = "it's a \\ back\\slash and a quote: '"


def as_postgres(port: int, *command: str, env: dict[str, str] | None = None,
                ) -> subprocess.CompletedProcess[str]:
    """Runs a command as the operating system's `postgres` (a superuser of the local cluster
    through its socket, as the postgres image's init scripts are)."""
    return subprocess.run(["runuser", "-u", "postgres", "--", *command],
                          env={**os.environ, "PGPORT": str(port), **(env or {})},
                          capture_output=True, text=True, timeout=60, check=False)


def local_superuser_port(server_dsn: str) -> int:
    """The port of the local cluster when this test may act as its superuser; else skip."""
    port = int(psycopg.conninfo.conninfo_to_dict(server_dsn).get("port") or 5432)
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root, to act as the local cluster's postgres user")
    if as_postgres(port, "psql", "-tAc", "select 1").returncode != 0:
        pytest.skip("no local cluster of this machine's on that port")
    return port


def test_the_roles_script_takes_any_password_as_it_is(postgres_server_dsn: str) -> None:
    port = local_superuser_port(postgres_server_dsn)
    suffix = uuid.uuid4().hex[:8]
    owner, user, database = f"probe_owner_{suffix}", f"probe_{suffix}", f"probe_{suffix}"
    names = {"POSTGRES_USER": "postgres", "LOYALTY_DB_OWNER": owner, "LOYALTY_DB_USER": user,
             "LOYALTY_DB_NAME": database, "LOYALTY_DB_OWNER_PASSWORD": OWNER_PASSWORD,
             "LOYALTY_DB_PASSWORD": USER_PASSWORD}
    try:
        made = as_postgres(port, "bash", str(ROOT / "deploy" / "postgres-roles.sh"), env=names)
        assert made.returncode == 0, made.stderr

        for role, password in ((owner, OWNER_PASSWORD), (user, USER_PASSWORD)):
            with psycopg.connect(host="127.0.0.1", port=port, user=role, password=password,
                                 dbname=database) as conn:
                assert conn.execute("SELECT current_user").fetchone() == (role,)
        with psycopg.connect(host="127.0.0.1", port=port, user=owner, password=OWNER_PASSWORD,
                             dbname=database) as conn:
            assert conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database "
                                "WHERE datname = current_database()").fetchone() == (owner,)
            assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s",
                                (INJECTED,)).fetchone() == (0,)
    finally:
        for statement in (f"DROP DATABASE IF EXISTS {database} WITH (FORCE)",
                          f"DROP ROLE IF EXISTS {user}", f"DROP ROLE IF EXISTS {owner}",
                          f"DROP ROLE IF EXISTS {INJECTED}"):
            as_postgres(port, "psql", "-c", statement)
