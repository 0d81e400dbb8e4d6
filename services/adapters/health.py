"""Whether a service is alive, ready and making progress: its watchdog and its probes.

- **live**: the service's loop turned within `stuck_after` seconds;
- **ready**: live, not stuck, and every dependency the service reports answers (Kafka,
  PostgreSQL, partitions assigned);
- **stuck**: behind (records or events waiting for it) with no progress for `stuck_after`
  seconds, or a loop that stopped turning. A stuck service is restarted: the watchdog logs
  why and ends the process with `EXIT_STUCK`, and its supervisor (`loyalty run`, compose's
  restart policy, Kubernetes) starts it again. Ending at once is as safe as a SIGKILL, which
  the fault suite proves harmless: positions and results are stored transactionally.

While a service waits for a dependency that is down (the event store, say), it is not ready,
and not stuck: restarting it would not help.

`serve_probes` answers `GET /livez`, `GET /readyz` (200, or 503 with the reasons as JSON) and
`GET /metrics` on the service's metrics port; `WatchdogCollector` puts the watchdog's verdicts
among the service's metrics.
"""

import json
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from prometheus_client import make_wsgi_app
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.adapters.metrics import ServiceMetrics

log = structlog.get_logger(__name__)

EXIT_STUCK = 75
"""The exit status of a service its watchdog ended (EX_TEMPFAIL: start it again)."""


class Watchdog:
    """What a service's loop reports of itself, and the verdicts drawn from it."""

    def __init__(self, service: str, stuck_after: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.stuck_after = stuck_after
        self.clock = clock
        self.turned_at = self.progressed_at = clock()
        self.position: Hashable = None
        self.behind = False
        self.waiting_for: set[str] = set()
        """Dependencies that are down: while any is, the service is not ready, and not stuck
        (restarting it would not help)."""
        self.dependencies: set[str] = set()
        """Every dependency the service has reported on, down or not."""
        self.problems: dict[str, str] = {}
        self.forced: str | None = None

    def turned(self) -> None:
        """The loop turned (called at least every few seconds, also when idle)."""
        self.turned_at = self.clock()

    def progress(self, position: Hashable, behind: bool) -> None:
        """Where the service is, and whether work is waiting for it (the loop's own turns are
        told by `turned`: progress may be watched from elsewhere)."""
        now = self.clock()
        if position != self.position or not behind:
            self.progressed_at = now
        self.position = position
        self.behind = behind

    def unavailable(self, dependency: str) -> None:
        """The service waits for a dependency that is down."""
        self.turned()
        self.waiting_for.add(dependency)
        self.dependencies.add(dependency)

    def available(self, dependency: str) -> None:
        """A dependency answers (again); the time without progress starts over when the
        service waits for nothing any more."""
        self.dependencies.add(dependency)
        if dependency in self.waiting_for:
            self.waiting_for.discard(dependency)
            if not self.waiting_for:
                self.progressed_at = self.clock()

    def check(self, name: str, problem: str | None) -> None:
        """A readiness check: None when it passes, else what is wrong."""
        if problem is None:
            self.problems.pop(name, None)
        else:
            self.problems[name] = problem

    def force(self, reason: str) -> None:
        """The service cannot go on as it is (its topic was created anew): stuck at once."""
        self.forced = reason

    def seconds_since_progress(self) -> float:
        return self.clock() - self.progressed_at if self.behind else 0.0

    def stuck(self) -> str | None:
        """Why the service is stuck, or None."""
        now = self.clock()
        if self.forced is not None:
            return self.forced
        if now - self.turned_at > self.stuck_after:
            return f"its loop has not turned for {now - self.turned_at:.0f} s"
        if not self.waiting_for and self.behind and \
                now - self.progressed_at > self.stuck_after:
            return f"behind and no progress for {now - self.progressed_at:.0f} s"
        return None

    def live(self) -> bool:
        return self.clock() - self.turned_at <= self.stuck_after

    def readiness(self) -> dict[str, str]:
        """Every reason the service is not ready (empty: ready)."""
        reasons = dict(self.problems)
        if self.waiting_for:
            reasons["waiting"] = "waiting for " + " and ".join(sorted(self.waiting_for))
        if (stuck := self.stuck()) is not None:
            reasons["stuck"] = stuck
        return reasons


def dependency_label(dependency: str) -> str:
    """A dependency as a label value: `the event store` -> `event-store`."""
    return dependency.removeprefix("the ").replace(" ", "-")


class WatchdogCollector(Collector):
    """The watchdog's verdicts as gauges, read at every scrape."""

    def __init__(self, watchdog: Watchdog) -> None:
        self.watchdog = watchdog

    def collect(self) -> Iterable[Metric]:
        dog = self.watchdog
        behind = GaugeMetricFamily(
            "loyalty_seconds_without_progress", "Seconds the service has been behind without "
            "progress (0: not behind); the watchdog ends it past LOYALTY_STUCK_AFTER_SECONDS.",
            labels=["service"])
        behind.add_metric([dog.service], dog.seconds_since_progress())
        ready = GaugeMetricFamily(
            "loyalty_service_ready", "1 when the service is ready (/readyz answers 200): not "
            "stuck, no dependency down, partitions assigned.", labels=["service"])
        ready.add_metric([dog.service], 0.0 if dog.readiness() else 1.0)
        down = GaugeMetricFamily(
            "loyalty_dependency_unavailable", "1 while the service waits for a dependency that "
            "does not answer (broker, event-store): not ready, and not restarted for it.",
            labels=["service", "dependency"])
        for dependency in sorted(dog.dependencies | dog.waiting_for):
            down.add_metric([dog.service, dependency_label(dependency)],
                            float(dependency in dog.waiting_for))
        return [behind, ready, down]


def report(watchdog: Watchdog, metrics: ServiceMetrics) -> None:
    """Puts the watchdog's verdicts among the service's metrics."""
    metrics.registry.register(WatchdogCollector(watchdog))


def watch(watchdog: Watchdog, metrics: ServiceMetrics | None = None, every: float = 1.0,
          end: Callable[[int], None] = os._exit) -> threading.Thread:
    """Checks the watchdog every `every` seconds, in a thread of its own; a stuck service is
    ended (`end(EXIT_STUCK)`) for its supervisor to start again. Its verdicts join `metrics`."""
    if metrics is not None:
        report(watchdog, metrics)

    def run() -> None:
        while True:
            time.sleep(every)
            reason = watchdog.stuck()
            if reason is not None:
                log.error("service stuck; ending it to be started again", reason=reason,
                          position=str(watchdog.position), exit_status=EXIT_STUCK)
                end(EXIT_STUCK)
                return

    thread = threading.Thread(target=run, name="watchdog", daemon=True)
    thread.start()
    return thread


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes are frequent: no access log."""


def probes_app(watchdog: Watchdog, metrics: ServiceMetrics) -> Callable[..., Any]:
    """The WSGI application of /livez, /readyz and /metrics."""
    exposition = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/livez":
            live = watchdog.live()
            return _json(start_response, live, {"live": live})
        if path == "/readyz":
            reasons = watchdog.readiness()
            return _json(start_response, not reasons, {"ready": not reasons,
                                                       "reasons": reasons})
        result: list[bytes] = exposition(environ, start_response)
        return result

    return app


def _json(start_response: Callable[..., Any], ok: bool, body: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response("200 OK" if ok else "503 Service Unavailable",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def serve_probes(watchdog: Watchdog, metrics: ServiceMetrics, host: str, port: int) -> None:
    """Serves /livez, /readyz and /metrics in a thread of its own; a port in use is logged, not
    fatal (two instances of a service on one host need two ports); port 0: not served."""
    if port == 0:
        return
    try:
        server = make_server(host, port, probes_app(watchdog, metrics), _ThreadingServer,
                             handler_class=_QuietHandler)
    except OSError as error:
        log.warning("metrics and probes not served", port=port, error=str(error))
        return
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    log.info("metrics and probes served", url=f"http://{host}:{port}/metrics")
