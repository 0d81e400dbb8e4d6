"""The system under fault: `loyalty run` as an operator starts it, and an organiser on another
Kafka client (librdkafka, through confluent-kafka) sending a steady stream of accruals.

`System` runs the supervisor with every service on topics and a database of their own. `Stream`
produces accrual commands from a thread until stopped, remembering what it sent. `Results`
collects every record of the results topic. `Ledger` checks, from the event store and the
results, the invariants a user cares about after any fault.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, Producer

from services.domain import Customer, ItemOutcome, ids
from services.supervisor import metrics_port
from tests.conftest import service_dsn
from tests.support.store import event_store

ROOT = Path(__file__).resolve().parents[2]
STUCK_AFTER_SECONDS = 20
"""A service behind without progress this long is restarted by its watchdog."""
SERVICES = ("intake", "processor", "relay", "projections", "clock", "api")
"""In the order `loyalty run` starts them."""
COMMANDS = {"intake": "intake", "processor": "processor", "relay": "relay",
            "projections": "projections run", "clock": "clock", "api": "api"}


def free_ports(count: int) -> int:
    """The first of `count` consecutive ports on 127.0.0.1 that nothing listens on."""
    for base in range(21000 + os.getpid() % 5000 * 4, 65000, count + 1):
        if all(bind_free(base + n) for n in range(count)):
            return base
    raise RuntimeError("no free ports")


def bind_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


@dataclass
class System:
    """`loyalty run` with every service, on its own topics and database."""

    bootstrap: str
    dsn: str
    prefix: str
    log_dir: Path
    supervisor: subprocess.Popen[bytes] | None = None
    metrics_port: int = 0
    http_port: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    """Settings of this system's own, over the defaults."""

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "LOYALTY_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "LOYALTY_POSTGRES_DSN": service_dsn(self.dsn),
            "LOYALTY_POSTGRES_OWNER_DSN": self.dsn,
            "LOYALTY_DEV_MODE": "true",
            "LOYALTY_COMMANDS_TOPIC": self.topic("commands"),
            "LOYALTY_ITEMS_TOPIC": self.topic("items"),
            "LOYALTY_RESULTS_TOPIC": self.topic("results"),
            "LOYALTY_EVENTS_TOPIC": self.topic("events"),
            "LOYALTY_DEAD_LETTER_TOPIC": self.topic("deadletter"),
            "LOYALTY_INTAKE_GROUP": self.topic("intake"),
            "LOYALTY_PROCESSOR_GROUP": self.topic("processor"),
            "LOYALTY_PROJECTIONS_GROUP": self.topic("projections"),
            "LOYALTY_HTTP_PORT": str(self.http_port),
            "LOYALTY_METRICS_PORT": str(self.metrics_port),
            "LOYALTY_LOG_JSON": "true",
            "LOYALTY_STUCK_AFTER_SECONDS": str(STUCK_AFTER_SECONDS),
            **self.extra_env,
        }

    def start(self) -> None:
        # `loyalty run`'s port and its services' (one instance each) are the first six of the
        # block (services.supervisor.metrics_port), the API's HTTP port the eighth.
        self.metrics_port = free_ports(len(SERVICES) + 2)
        self.http_port = self.metrics_port + len(SERVICES) + 1
        log = open(self.log_dir / "run.log", "ab")  # noqa: SIM115
        self.supervisor = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run"], env=self.env, cwd=ROOT,
            stdout=log, stderr=subprocess.STDOUT)
        wait_until(self.all_running, 120, "every service to run")
        wait_until(self.api_answers, 120, "the read API to answer")

    def stop(self) -> None:
        if self.supervisor is not None and self.supervisor.poll() is None:
            self.supervisor.send_signal(signal.SIGTERM)
            try:
                self.supervisor.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.supervisor.kill()

    def children(self) -> dict[str, int]:
        """Service -> pid of the supervisor's live children."""
        assert self.supervisor is not None
        found: dict[str, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent != self.supervisor.pid or " Z " in stat:
                continue
            for service, command in COMMANDS.items():
                if cmdline.rstrip().endswith(f"services.cli {command}"):
                    found[service] = int(entry.name)
        return found

    def api_answers(self) -> bool:
        """Whether the API process is listening yet (it may start after the workers have
        answered a first command)."""
        try:
            with socket.create_connection(("127.0.0.1", self.http_port), timeout=1):
                return True
        except OSError:
            return False

    def all_running(self) -> bool:
        return self.supervisor is not None and self.supervisor.poll() is None and set(
            self.children()) == set(SERVICES)

    def kill(self, service: str) -> int:
        """SIGKILLs one service; returns its pid."""
        pid = self.children()[service]
        os.kill(pid, signal.SIGKILL)
        return pid

    def metric(self, name: str, of: str = "run", **labels: str) -> float:
        """A value of the metrics of `loyalty run` itself or of one of its services (on the
        ports `loyalty run` gives them: `services.supervisor.metrics_port`); 0 when absent."""
        import httpx
        from prometheus_client.parser import text_string_to_metric_families

        port = metrics_port(self.metrics_port, of)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        return sum(sample.value for family in text_string_to_metric_families(text)
                   for sample in family.samples
                   if sample.name == name and labels.items() <= sample.labels.items())

    def log(self) -> str:
        return (self.log_dir / "run.log").read_text(errors="replace")


def producer(bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, "acks": "all", "log_level": 1,
                     "enable.idempotence": True, "message.timeout.ms": 300_000})


@dataclass
class Sent:
    """What the organiser sent: commands by id, and each accrual item."""

    commands: dict[str, bytes] = field(default_factory=dict)
    items: dict[str, tuple[str, Decimal]] = field(default_factory=dict)
    """guid -> (uniqId, amount)."""
    guids: dict[str, dict[str, str]] = field(default_factory=dict)
    """commandId -> its items' guid -> uniqId."""


def accrual_command(uniq_ids: list[str], amount: str = "1.25") -> tuple[bytes, dict[str, str]]:
    """An addCustomerPointMessage command accruing `amount` to each customer."""
    guids = {str(uuid.uuid4()): uniq_id for uniq_id in uniq_ids}
    command = {"typeOfCommand": "addCustomerPointMessage", "add": [
        {"guid": guid, "uniqId": uniq_id, "amount": amount, "eventId": guid[:8],
         "eventDate": "2026-01-01T10:00:00+03", "eventType": "operation"}
        for guid, uniq_id in guids.items()]}
    return json.dumps(command).encode(), guids


class Stream:
    """A steady stream of accruals to a pool of customers, from a thread of its own."""

    def __init__(self, system: System, sent: Sent, customers: int = 30,
                 every_seconds: float = 0.05, twice: bool = False, per_command: int = 2,
                 commands: int | None = None) -> None:
        self.system = system
        self.sent = sent
        self.twice = twice
        self.pool = [f"steady-{n}-{uuid.uuid4().hex[:6]}" for n in range(customers)]
        self.every = every_seconds
        self.per_command = per_command
        self.commands = commands
        """How many commands to send (None: until stopped)."""
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.producer = producer(system.bootstrap)
        self.count = 0

    def __enter__(self) -> "Stream":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)
        assert self.producer.flush(300) == 0, "the stream's producer kept records unsent"

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set() and (self.commands is None
                                              or self.count < self.commands):
            chosen = [self.pool[(n + k) % len(self.pool)] for k in range(self.per_command)]
            self.send(chosen, twice=self.twice)
            n += self.per_command
            self.stopping.wait(self.every)

    def finished(self) -> bool:
        """Whether every command of a stream of a given length was sent."""
        return self.commands is not None and self.count >= self.commands

    def send(self, uniq_ids: list[str], twice: bool = False) -> str:
        value, guids = accrual_command(uniq_ids)
        command_id = str(uuid.uuid4())
        self.resend(command_id, value, guids, 2 if twice else 1)
        self.count += 1
        return command_id

    def resend(self, command_id: str, value: bytes, guids: dict[str, str], times: int) -> None:
        """Produces a command (again): same id, same bytes."""
        for guid, uniq_id in guids.items():
            self.sent.items[guid] = (uniq_id, Decimal("1.25"))
        self.sent.commands[command_id] = value
        self.sent.guids[command_id] = guids
        for _ in range(times):
            self.producer.produce(self.system.topic("commands"), value,
                                  headers=[("commandId", command_id.encode())])
        self.producer.poll(0)


class Results:
    """Every record of the results topic, collected from a thread (confluent-kafka)."""

    def __init__(self, system: System) -> None:
        self.consumer = Consumer({"bootstrap.servers": system.bootstrap,
                                  "group.id": f"{system.prefix}observer-{uuid.uuid4().hex[:6]}",
                                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                                  "log_level": 1})
        self.consumer.subscribe([system.topic("results")])
        self.validation: dict[str, dict[str, Any]] = {}
        self.processing: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            record = self.consumer.poll(0.2)
            if record is None or record.error() or record.value() is None:
                continue
            result = json.loads(record.value())
            with self.lock:
                if result.get("stage") == "validation":
                    self.validation[result["commandId"]] = result
                elif result.get("stage") == "processing":
                    self.processing[result["guid"]].append(result)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.consumer.close()

    def accepted(self) -> set[str]:
        """Guids that stage 1 accepted."""
        with self.lock:
            return {item["guid"] for result in self.validation.values()
                    for item in result.get("results", []) if item["status"] == "Success"}

    def answered(self, guids: set[str]) -> bool:
        with self.lock:
            return all(self.processing.get(guid) for guid in guids)

    def wait_for_every_answer(self, sent: Sent, timeout: float = 180) -> None:
        """Until every command sent has its stage-1 result and every accepted item its
        stage-2 result."""
        wait_until(lambda: set(sent.commands) <= set(self.validation), timeout,
                   "every stage-1 result")
        wait_until(lambda: self.answered(self.accepted() & set(sent.items)), timeout,
                   "every stage-2 result")


class Ledger:
    """The invariants of the system, read from the event store and the results.

    Each check covers what changed since the last one (the items answered since, the customers
    they accrued to); every customer's read model is compared with its events each time."""

    def __init__(self, system: System, sent: Sent, results: Results) -> None:
        self.system = system
        self.sent = sent
        self.results = results
        self.checked: set[str] = set()
        """Accepted guids whose outcome and accrual were checked in the event store."""

    def check(self) -> None:
        accepted = self.results.accepted() & set(self.sent.items)
        assert accepted, "nothing was accepted: the stream did not flow"
        with self.results.lock:
            answers = {guid: list(self.results.processing[guid]) for guid in accepted}
        for guid, repeated in answers.items():
            assert all(answer == repeated[0] for answer in repeated), f"{guid}: {repeated}"
            assert repeated[0]["status"] == "Success", repeated[0]
        expected: dict[str, Decimal] = defaultdict(Decimal)
        for guid in accepted:
            uniq_id, amount = self.sent.items[guid]
            expected[uniq_id] += amount
        new = accepted - self.checked
        touched = {self.sent.items[guid][0] for guid in new}
        with event_store(self.system.dsn) as store:
            for guid in new:
                assert isinstance(store.load(ids.item_id("default", guid)), ItemOutcome), guid
            for uniq_id in touched:
                customer = store.load(ids.customer_id("default", uniq_id))
                assert isinstance(customer, Customer), uniq_id
                accrued = [e for e in store.events.get(customer.id)
                           if type(e).__name__ == "PointsAccrued"]
                assert sorted(e.guid for e in accrued) == sorted(
                    g for g in accepted if self.sent.items[g][0] == uniq_id), uniq_id
                assert customer.balance == expected[uniq_id], (
                    uniq_id, customer.balance, expected[uniq_id])
        self.checked |= new
        self.check_read_models(expected)

    def check_read_models(self, expected: dict[str, Decimal]) -> None:
        """Every customer's read model equals a fold of its events (`loyalty projections
        verify`), and every balance the read API serves equals the accepted accruals."""
        verified = subprocess.run(
            [sys.executable, "-m", "services.cli", "projections", "verify", "--json"],
            cwd=ROOT, env=self.system.env, capture_output=True, text=True, timeout=600)
        report = json.loads(verified.stdout or "{}")
        assert verified.returncode == 0 and report.get("ok"), (
            report.get("differences", [])[:20], verified.stderr[-2000:])
        assert report["aggregates"] >= len(expected)
        with psycopg.connect(self.system.dsn) as conn:
            held = dict(conn.execute(
                "SELECT uniq_id, balance FROM read_models.customers WHERE programme = "
                "'default' AND uniq_id = ANY(%s)", (list(expected),)).fetchall())
        wrong = {uniq_id: (held.get(uniq_id), amount) for uniq_id, amount in expected.items()
                 if held.get(uniq_id) != amount}
        assert not wrong, f"{len(wrong)} read models differ: {list(wrong.items())[:10]}"
