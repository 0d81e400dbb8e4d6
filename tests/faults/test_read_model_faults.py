"""Faults aimed at the read models, each ending with every customer's read model compared with
its events (`loyalty projections verify`, in `Ledger.check`).

- PostgreSQL stopped at once mid-stream, at several moments and once while a batch holds the
  event store's insert lock (inserted, not committed), as an operator tried it: 3,000 accruals
  in commands of 50 items at 300 items/s, the database down for 6 s
  (`LOYALTY_POSTGRES_FAULT_RUNS=10` runs it ten times);
- the projections service killed again and again while the processor keeps storing;
- PostgreSQL stopped while the projections service catches up after the read models were
  dropped (a rebuild);
- a follower held still: reported stuck by /healthz and /metrics, restarted by its watchdog.
"""

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from projections.view import POSITION_LOCK, POSITION_LOCK_KEY
from projections.writer import clear_read_models
from services import bootstrap
from services.bootstrap import grant_services
from services.settings import Settings
from tests.conftest import service_dsn
from tests.faults.system import (
    STUCK_AFTER_SECONDS,
    Ledger,
    Results,
    Sent,
    Stream,
    System,
    wait_until,
)
from tests.faults.test_faults import deploy, flowed, settle

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

STATE = Path(os.environ.get("LOYALTY_HOME", Path.home() / ".cache" / "loyalty"))
MOMENTS: tuple[float | None, ...] = (2.0, 3.5, 5.0, 6.5, None)
"""Seconds into the stream at which PostgreSQL is stopped; None: as soon as a batch holds the
insert lock (between its insert and its commit), at least 2 s in."""
RUNS = int(os.environ.get("LOYALTY_POSTGRES_FAULT_RUNS", len(MOMENTS)))
DOWN_SECONDS = 6.0
"""How long the database stays down: the fault's length, as the operator's trial had it."""


@pytest.fixture
def postgres_version() -> str:
    mark = STATE / "postgres.started"
    if not mark.exists():
        pytest.skip("PostgreSQL was not started by deploy/postgres.sh")
    return mark.read_text().strip()


def stop_postgres(version: str) -> None:
    subprocess.run(["pg_ctlcluster", version, "main", "stop", "-m", "immediate"], check=True)


INSERTING = """
    SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
    WHERE c.relname = 'loyalty_events' AND l.mode = 'ExclusiveLock' AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"""


def stop_while_inserting(dsn: str, version: str, timeout: float = 20.0) -> None:
    """Stops PostgreSQL at once the moment a transaction holds the event store's insert lock:
    it has inserted its events and not committed yet."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(INSERTING).fetchone()
            if row and row[0]:
                stop_postgres(version)
                return
    raise AssertionError("no batch was seen between its insert and its commit")


def scenario(system: System, sent: Sent) -> Stream:
    """The operator's stream: 60 commands of 50 accruals to ~950 customers, 300 items/s."""
    return Stream(system, sent, customers=950, every_seconds=1 / 6, per_command=50,
                  commands=60)


@pytest.mark.parametrize("moment", [MOMENTS[n % len(MOMENTS)] for n in range(RUNS)],
                         ids=[f"run{n + 1}-" + (f"{MOMENTS[n % len(MOMENTS)]}s"
                                                if MOMENTS[n % len(MOMENTS)] else "in-flight")
                              for n in range(RUNS)])
def test_postgresql_stopped_at_once_mid_stream_leaves_every_read_model_equal_to_its_events(
    moment: float | None, postgres_version: str, system: System, sent: Sent,
    results: Results, ledger: Ledger
) -> None:
    with scenario(system, sent) as stream:
        wait_until(lambda: stream.count > 0, 30, "the stream to start")
        started = time.monotonic()
        try:
            wait_until(lambda: time.monotonic() - started >= (moment or 2.0), 30,
                       "the moment of the stop")
            if moment is None:
                stop_while_inserting(system.dsn, postgres_version)
            else:
                stop_postgres(postgres_version)
            assert not stream.finished(), "the stop must land mid-stream"
            time.sleep(DOWN_SECONDS)  # the outage itself: nothing to wait for
        finally:
            deploy("postgres.sh", "start")
        wait_until(stream.finished, 120, "every command of the stream to be sent")

    settle(system, sent, results, ledger)


def position(system: System) -> int:
    with psycopg.connect(system.dsn) as conn:
        row = conn.execute("SELECT notification_id FROM read_models.read_models_tracking "
                           "WHERE application_name = 'loyalty'").fetchone()
        return int(row[0]) if row else 0


def head(system: System) -> int:
    with psycopg.connect(system.dsn) as conn:
        row = conn.execute("SELECT max(notification_id) FROM loyalty_events").fetchone()
        return int(row[0] or 0) if row else 0


def test_the_projections_service_killed_again_and_again_while_items_are_stored(
    system: System, sent: Sent, results: Results, ledger: Ledger
) -> None:
    with Stream(system, sent, per_command=20) as stream:
        wait_until(lambda: flowed(stream, results, sent, 20), 120, "the stream to flow")
        for _ in range(4):
            before = position(system)
            killed = system.kill("projections")
            stored = head(system)
            wait_until(lambda k=killed: system.children().get("projections") not in (None, k),
                       90, "the projections service to be restarted")
            wait_until(lambda b=before, s=stored: position(system) > max(b, s), 120,
                       "the read models to move on past what was stored while it was down")

    settle(system, sent, results, ledger)


def test_postgresql_stopped_while_the_read_models_catch_up_after_a_rebuild(
    postgres_version: str, system: System, sent: Sent, results: Results, ledger: Ledger
) -> None:
    with Stream(system, sent, per_command=50, every_seconds=0.02, commands=150) as stream:
        wait_until(stream.finished, 120, "the commands to be sent")
    results.wait_for_every_answer(sent)
    stored = head(system)
    clear_read_models(system.dsn)  # what `loyalty projections rebuild` starts with
    bootstrap.create_read_model_tables(Settings(postgres_dsn=system.dsn))
    grant_services(Settings(postgres_dsn=service_dsn(system.dsn), postgres_owner_dsn=system.dsn))
    try:
        wait_until(lambda: position(system) > 0, 60, "the read models to start catching up")
        caught_at = position(system)
        stop_postgres(postgres_version)
        assert caught_at < stored, "the stop must land while the read models catch up"
        time.sleep(DOWN_SECONDS)  # the outage itself: nothing to wait for
    finally:
        deploy("postgres.sh", "start")
    wait_until(lambda: position(system) >= stored, 180, "the read models to catch up")

    settle(system, sent, results, ledger)


def health(system: System) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"http://127.0.0.1:{system.http_port}/healthz",
                                       timeout=5).json()
    return answer


def api_metric(system: System, name: str, **labels: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{system.http_port}/metrics", timeout=5).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == name and labels.items() <= sample.labels.items())


def read_models_follower(system: System) -> dict[str, Any]:
    return next((f for f in health(system)["followers"] if f["name"] == "read-models"), {})


def test_a_follower_held_still_is_reported_stuck_and_restarted(
    system: System, sent: Sent, results: Results, ledger: Ledger
) -> None:
    restarts = system.metric("loyalty_service_restarts_total", service="projections-run")
    with Stream(system, sent) as stream:
        wait_until(lambda: flowed(stream, results, sent, 20), 120, "the stream to flow")
        lock = psycopg.connect(system.dsn)
        try:
            lock.execute(POSITION_LOCK, (POSITION_LOCK_KEY,))
            wait_until(lambda: read_models_follower(system).get("stuck") is True,
                       STUCK_AFTER_SECONDS * 4, "/healthz to report the read models stuck")
            assert health(system)["status"] == "degraded"
            assert api_metric(system, "loyalty_follower_stuck", follower="read-models") == 1
            wait_until(lambda: system.metric("loyalty_service_restarts_total",
                                             service="projections-run") > restarts,
                       STUCK_AFTER_SECONDS * 4, "the watchdog to restart the projections")
        finally:
            lock.rollback()
            lock.close()
        wait_until(lambda: read_models_follower(system).get("stuck") is False, 120,
                   "the read models to move again")

    settle(system, sent, results, ledger)
    assert '"event": "service stuck; ending it to be started again"' in system.log()
