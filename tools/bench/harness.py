"""The pipeline under test: its own topics, its own database, its services as child processes."""

import asyncio
import os
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from services import bootstrap
from services.adapters.kafka import stable_members
from services.adapters.kafka_access import start_diagnosed
from services.settings import Settings
from tools.bench.procfs import peak_mib

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "intake": ("intake",),
    "processor": ("processor",),
    "relay": ("relay",),
    "projections": ("projections", "run"),
}
GRACE_SECONDS = 20
GROUPS = {"intake": "intake", "processor": "processor"}
"""The services that consume in a consumer group, and their group's name in the run."""
SETTLE_TIMEOUT_SECONDS = 120.0
SETTLE_POLL_SECONDS = 0.2


class ServiceDiedError(RuntimeError):
    """A service under test exited during the benchmark."""


def database_dsn(server_dsn: str, name: str) -> str:
    """The DSN of database `name` on the server of `server_dsn`."""
    parts = urlsplit(server_dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class BenchEnvironment:
    """Names of one run's topics, consumer groups and scratch database."""

    kafka: Settings
    """The user's settings: how the benchmark's own Kafka clients reach the brokers (the
    services read the same from the environment they inherit)."""
    server_dsn: str
    """The services' role on the server (reads and writes the scratch database's rows)."""
    owner_dsn: str
    """The role that creates, owns and drops the scratch database."""
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    master_key: str = field(default_factory=lambda: secrets.token_hex(32))

    @property
    def prefix(self) -> str:
        return f"bench{self.run_id}."

    @property
    def database(self) -> str:
        return f"loyalty_bench_{self.run_id}"

    @property
    def dsn(self) -> str:
        return database_dsn(self.server_dsn, self.database)

    @property
    def owner_database_dsn(self) -> str:
        return database_dsn(self.owner_dsn, self.database)

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def service_env(self) -> dict[str, str]:
        """The environment of every child: the user's, with this run's names, and a master
        key of this run's own unless the user set one (the scratch store dies with the run;
        the services refuse the development key outside development mode)."""
        return {
            "LOYALTY_MASTER_KEY": self.master_key,
            **os.environ,
            "LOYALTY_POSTGRES_DSN": self.dsn,
            "LOYALTY_POSTGRES_OWNER_DSN": self.owner_database_dsn,
            "LOYALTY_COMMANDS_TOPIC": self.topic("commands"),
            "LOYALTY_ITEMS_TOPIC": self.topic("items"),
            "LOYALTY_RESULTS_TOPIC": self.topic("results"),
            "LOYALTY_EVENTS_TOPIC": self.topic("events"),
            "LOYALTY_DEAD_LETTER_TOPIC": self.topic("deadletter"),
            "LOYALTY_INTAKE_GROUP": self.topic("intake"),
            "LOYALTY_PROCESSOR_GROUP": self.topic("processor"),
            "LOYALTY_PROJECTIONS_GROUP": self.topic("projections"),
            "LOYALTY_LOG_JSON": "true",
            "LOYALTY_METRICS_PORT": "0",
        }

    def create_database(self) -> None:
        with psycopg.connect(self.owner_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))

    def drop_database(self) -> None:
        with psycopg.connect(self.owner_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(self.database)))

    def prepare(self) -> None:
        """Creates the topics and the event store's tables (`loyalty prepare`); says why when it
        cannot."""
        done = subprocess.run([sys.executable, "-m", "services.cli", "prepare"],
                              env=self.service_env(), cwd=ROOT, capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise ServiceDiedError(f"loyalty prepare exited with {done.returncode}:\n"
                                   f"{done.stderr[-2000:]}")

    def delete_topics(self) -> None:
        """Deletes every topic of this run."""
        asyncio.run(self._delete_topics())

    async def _delete_topics(self) -> None:
        admin = bootstrap.kafka_admin(self.kafka)
        await start_diagnosed(admin, self.kafka)
        try:
            ours = [name for name in await admin.list_topics() if name.startswith(self.prefix)]
            if ours:
                await admin.delete_topics(ours)
        finally:
            await admin.close()


class Services:
    """The services under test as child processes (`python -m services.cli <name>`), with
    `counts[service]` instances of each (intake and processor scale in their consumer group)."""

    def __init__(self, environment: BenchEnvironment, log_dir: Path,
                 counts: dict[str, int] | None = None) -> None:
        self.environment = environment
        self.log_dir = log_dir
        self.counts = {name: (counts or {}).get(name, 1) for name in SERVICES}
        self.children: dict[str, list[subprocess.Popen[bytes]]] = {}

    def start(self) -> None:
        env = self.environment.service_env()
        for name, args in SERVICES.items():
            self.children[name] = []
            for instance in range(1, self.counts[name] + 1):
                with open(self.log_dir / f"{name}-{instance}.log", "ab") as log:
                    self.children[name].append(subprocess.Popen(
                        [sys.executable, "-m", "services.cli", *args],
                        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                    ))

    async def settle(self) -> None:
        """Waits until every instance has joined its consumer group and the group is stable, so
        that no measured phase pays for the rebalances of start-up."""
        expected = {self.environment.topic(group): self.counts[name]
                    for name, group in GROUPS.items()}
        deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
        while (members := await stable_members(self.environment.kafka, list(expected))) != (
                expected):
            self.check_alive()
            if time.monotonic() > deadline:
                raise ServiceDiedError(f"consumer groups not settled: {members}, want {expected}")
            await asyncio.sleep(SETTLE_POLL_SECONDS)

    def label(self, name: str) -> str:
        """The service's name in the figures, with its instance count when it runs several."""
        count = self.counts[name]
        return name if count == 1 else f"{name} x{count}"

    def pids(self) -> dict[str, list[int]]:
        """The pids of each service's instances, by label."""
        return {self.label(name): [child.pid for child in children]
                for name, children in self.children.items()}

    def check_alive(self) -> None:
        """Raises ServiceDiedError, with the end of its log, when a service has exited."""
        for name, children in self.children.items():
            for instance, child in enumerate(children, start=1):
                if child.poll() is not None:
                    log = self.log_dir / f"{name}-{instance}.log"
                    tail = log.read_text(errors="replace")[-2000:]
                    raise ServiceDiedError(f"{name} exited with {child.returncode}:\n{tail}")

    def peak_memory(self) -> dict[str, float]:
        """VmHWM of each service in MiB, its instances together (read before `stop`)."""
        return {self.label(name): sum(peak_mib(child.pid) for child in children)
                for name, children in self.children.items()}

    def stop(self) -> None:
        """SIGTERM to all, then SIGKILL to whoever is still there after the grace period."""
        every = [child for children in self.children.values() for child in children]
        for child in every:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + GRACE_SECONDS
        for child in every:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.children.clear()
