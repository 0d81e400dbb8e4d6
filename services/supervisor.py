"""`loyalty run`: every service in a child process of its own, restarted when it exits.

A child that exits (a crash, a kill) is started again after a pause that doubles with every
exit in a row (1 s, 2 s, 4 s, ... at most a minute; a child that then runs for a minute is
healthy again); the other children go on meanwhile. Every restart is logged, counted in
`loyalty_service_restarts_total{service}` on the supervisor's metrics port, and a child that
keeps exiting is logged as a crash loop. Ctrl-C or SIGTERM stops every child.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import structlog

from services.adapters.backoff import backoff
from services.adapters.metrics import ServiceMetrics, serve_metrics
from services.logs import configure_logging
from services.settings import METRICS_PORTS, Settings

log = structlog.get_logger(__name__)

COMMANDS = {
    "intake": ["intake"],
    "processor": ["processor"],
    "relay": ["relay"],
    "projections-run": ["projections", "run"],
    "clock": ["clock"],
    "api": ["api"],
}
SCALABLE = ("intake", "processor")
"""Services that run as several instances: they share the partitions of one consumer group."""
MAX_INSTANCES = 9
"""Instances of one service at most: the ports of its block (`metrics_port`)."""
GRACE_SECONDS = 15
HEALTHY_SECONDS = 60.0
"""A child that ran this long since its last start is healthy: its backoff starts over."""
CRASH_LOOP = 4
"""Exits in a row after which a child is reported as crash-looping."""
TICK_SECONDS = 0.2


@dataclass
class Child:
    """One service process, and what the supervisor knows of its history."""

    name: str
    service: str
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    exits_in_a_row: int = 0
    restart_at: float | None = None
    restarts: int = field(default=0)

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "services.cli",
                                         *COMMANDS[self.service]], env=self.env)
        self.started_at = time.monotonic()
        self.restart_at = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def port_taken(host: str, port: int) -> bool:
    """Whether something already listens there (e.g. another `loyalty run`)."""
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0


def metrics_port(base: int, service: str, instance: int = 1) -> int:
    """The metrics port of one instance of a service under `loyalty run`, whose own port is
    `base`: stable whatever else runs. The first instance of the service n ports after the
    supervisor's (`METRICS_PORTS`: intake 1, processor 2, relay 3, projections 4, clock 5) is
    on base + n; instance k >= 2 is on base + 10 n + k (processor-2 on 9422, intake-3 on
    9413). 0 (metrics off) stays 0; the API serves its metrics on its HTTP port."""
    if base == 0 or service == "api":
        return 0
    if not 1 <= instance <= MAX_INSTANCES:
        raise ValueError(f"instance {instance} of {service}: 1 to {MAX_INSTANCES}")
    n = METRICS_PORTS[service.removesuffix("-run")] - METRICS_PORTS["run"]
    return base + n if instance == 1 else base + 10 * n + instance


def instance_counts(scales: list[str], services: list[str]) -> dict[str, int]:
    """`SERVICE=N` options as a mapping; ValueError for an unknown service, a count below 1,
    more than one instance of a service that runs once (not in `SCALABLE`), or more than
    `MAX_INSTANCES`."""
    counts: dict[str, int] = {}
    for scale in scales:
        service, _, count = scale.partition("=")
        if service not in services or not count.isdigit() or int(count) < 1:
            raise ValueError(f"{scale}: expected SERVICE=N, N >= 1, SERVICE one of "
                             f"{', '.join(services)}")
        if service not in SCALABLE and int(count) > 1:
            raise ValueError(f"{scale}: {service} runs once")
        if int(count) > MAX_INSTANCES:
            raise ValueError(f"{scale}: at most {MAX_INSTANCES} instances")
        counts[service] = int(count)
    return counts


def children_of(counts: dict[str, int], settings: Settings) -> list[Child]:
    """The children to run: `counts[service]` instances of each, each with a metrics port of
    its own (`metrics_port`; none when metrics are off)."""
    base = settings.metrics_port_of("run")
    children: list[Child] = []
    for service, count in counts.items():
        for instance in range(1, count + 1):
            name = service if instance == 1 else f"{service}-{instance}"
            port = metrics_port(base, service, instance)
            env = {**os.environ, "LOYALTY_METRICS_PORT": str(port)}
            children.append(Child(name, service, env))
    return children


def supervise(counts: dict[str, int], settings: Settings) -> int:
    """Starts the services, restarts any that exits, until Ctrl-C or SIGTERM."""
    if "api" in counts and port_taken(settings.http_host, settings.http_port):
        print(f"loyalty: {settings.http_host}:{settings.http_port} is in use; is `loyalty run`"
              " already running? Nothing was started.", file=sys.stderr)
        return 1
    configure_logging(settings, "run")
    metrics = ServiceMetrics("run")
    serve_metrics(metrics, settings.metrics_host, settings.metrics_port_of("run"))
    children = children_of(counts, settings)
    for child in children:
        metrics.restarts.labels(child.name)  # at 0: the first restart is an increase too
        child.start()
    log.info("services running; Ctrl-C stops them", services=[c.name for c in children])
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started in the background
        signal.signal(signum, signal.default_int_handler)
    try:
        while True:
            for child in children:
                watch(child, metrics)
            time.sleep(TICK_SECONDS)
    except KeyboardInterrupt:
        log.info("stopping")
    stop_all([child.process for child in children if child.process is not None])
    return 0


def watch(child: Child, metrics: ServiceMetrics) -> None:
    """Notices a child's exit and schedules its restart; restarts it when it is time."""
    if child.running:
        return
    now = time.monotonic()
    if child.restart_at is None:
        assert child.process is not None
        if now - child.started_at >= HEALTHY_SECONDS:
            child.exits_in_a_row = 0
        wait = backoff(child.exits_in_a_row, first=1.0, longest=60.0)
        child.exits_in_a_row += 1
        child.restart_at = now + wait
        logged = log.error if child.exits_in_a_row >= CRASH_LOOP else log.warning
        logged("service exited; restarting it", service=child.name,
               code=child.process.returncode, restart_in_seconds=round(wait, 1),
               exits_in_a_row=child.exits_in_a_row,
               crash_loop=child.exits_in_a_row >= CRASH_LOOP)
    elif now >= child.restart_at:
        child.start()
        child.restarts += 1
        metrics.restarts.labels(child.name).inc()
        log.info("service restarted", service=child.name, restarts=child.restarts)


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
