"""Prometheus metrics of the API: its HTTP requests and logins, and the read models' figures.

`/metrics` needs no key, so it carries no figure per programme (nor any customer's data):
customers and item outcomes are counted over all programmes together.

What a scrape reads from the database is cheap: the event store's head and the read models'
position (indexed), the followers' heartbeats (a row each) and the last verification (one row).
The counts of customers and item outcomes by status scan their tables, so they are never made
by a scrape: a scrape that finds them older than `LOYALTY_METRICS_COUNT_SECONDS` starts a count
in the background and answers with the figures it has (none before the first count ends). A
database that does not answer leaves the HTTP figures served and says so
(`loyalty_dependency_unavailable{dependency="database"}`).
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from prometheus_client import Counter, Gauge, Histogram, generate_latest
from psycopg import AsyncConnection

from projections.customers import count_customers
from projections.item_outcomes import count_outcomes
from projections.progress import (
    count_quarantined,
    last_verification,
    read_followers,
    read_progress,
)
from services.adapters.metrics import runtime_registry
from services.adapters.pools import Connections
from services.api.resources import resources_of

log = structlog.get_logger(__name__)

DATABASE_TIMEOUT_SECONDS = 2.0


class LoginVerdict(StrEnum):
    """How a login through the bonus window ended (`loyalty_logins_total{outcome}`)."""

    SUCCESS = "success"
    FORGED = "forged"
    EXPIRED = "expired"
    REVOKED = "revoked"
    TOO_LARGE = "too-large"
    CROSS_SITE = "cross-site"
    RATE_LIMITED = "rate-limited"
    BLOCKED = "blocked"
    NOT_FOUND = "not-found"
    UNAVAILABLE = "unavailable"


class ApiMetrics:
    """The metrics of one application, in a registry of its own."""

    def __init__(self, count_every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry = runtime_registry()
        self.count_every = count_every
        self.clock = clock
        self.counted_at: float | None = None
        self.counting: asyncio.Task[None] | None = None
        self.requests = Counter(
            "loyalty_http_requests", "HTTP requests answered.",
            ["method", "route", "status"], registry=registry)
        self.latency = Histogram(
            "loyalty_http_request_duration_seconds", "Time to answer an HTTP request.",
            ["method", "route"], registry=registry)
        self.logins = Counter(
            "loyalty_logins", "Logins through the bonus window (POST /window/{token}) by "
            "outcome, and links refused when opened (GET): forged, expired, revoked.",
            ["outcome"], registry=registry)
        self.unavailable = Gauge(
            "loyalty_dependency_unavailable", "1 while the API's database does not answer.",
            ["service", "dependency"], registry=registry)
        self.lag = Gauge("loyalty_projection_lag_events",
                         "Events stored but not yet in the read models.", registry=registry)
        self.head = Gauge("loyalty_event_store_head",
                          "Highest notification id in the event store.", registry=registry)
        self.follower_lag = Gauge("loyalty_follower_lag_events", "Events a follower of the "
                                  "event store has still to handle (read-models, relay), as "
                                  "of its last heartbeat.", ["follower"], registry=registry)
        self.follower_stuck = Gauge("loyalty_follower_stuck", "1 when a follower is behind "
                                    "and has not moved for the configured time, or no longer "
                                    "beats.", ["follower"], registry=registry)
        self.follower_idle = Gauge("loyalty_follower_seconds_without_progress", "Seconds a "
                                   "follower has been behind without moving.", ["follower"],
                                   registry=registry)
        self.verified_at = Gauge(
            "loyalty_verification_finished_timestamp_seconds", "When the last `loyalty "
            "projections verify` finished (Unix time; absent: never).", registry=registry)
        self.differences = Gauge(
            "loyalty_verification_differences", "Rows the last `loyalty projections verify` "
            "found different from a fold of the event store.", registry=registry)
        self.quarantined = Gauge(
            "loyalty_events_in_quarantine", "Events left out of the read models "
            "(read_models.quarantine) until a rebuild takes them in.", registry=registry)
        self.outcomes = Gauge(
            "loyalty_item_outcomes", "Items with a stored stage-2 outcome, by status, all "
            "programmes together (counted at most every LOYALTY_METRICS_COUNT_SECONDS).",
            ["status"], registry=registry)
        self.customers = Gauge(
            "loyalty_customers", "Customers by status, all programmes together (counted at "
            "most every LOYALTY_METRICS_COUNT_SECONDS).", ["status"], registry=registry)
        self.count_age = Gauge(
            "loyalty_metrics_count_age_seconds", "How old loyalty_customers, "
            "loyalty_item_outcomes and loyalty_events_in_quarantine are.", registry=registry)
        self.count_age.set_function(self.age_of_counts)

    async def scrape(self, pool: Connections, stuck_after: float) -> bytes:
        """Reads the cheap figures from the database, starts a count when the last one is
        old, and renders every metric as Prometheus text."""
        try:
            async with pool.connection(timeout=DATABASE_TIMEOUT_SECONDS) as conn:
                await self.read_progress(conn, stuck_after)
            self.unavailable.labels("api", "database").set(0)
        except Exception as error:
            log.info("metrics: the database does not answer", error=repr(error))
            self.unavailable.labels("api", "database").set(1)
        self.count_if_due(pool)
        return generate_latest(self.registry)

    async def read_progress(self, conn: AsyncConnection[Any], stuck_after: float) -> None:
        """The followers' progress and the last verification."""
        progress = await read_progress(conn)
        self.lag.set(progress.lag)
        self.head.set(progress.head)
        for follower in await read_followers(conn):
            self.follower_lag.labels(follower.name).set(follower.lag)
            self.follower_stuck.labels(follower.name).set(int(follower.stuck(stuck_after)))
            self.follower_idle.labels(follower.name).set(
                follower.seconds_since_progress if follower.lag else 0)
        verified = await last_verification(conn)
        if verified is not None:
            self.verified_at.set(verified.finished_at.timestamp())
            self.differences.set(verified.differences)

    def count_if_due(self, pool: Connections) -> None:
        """Starts a count in the background when none runs and the last one is old."""
        if self.counting is not None and not self.counting.done():
            return
        if self.counted_at is not None and self.clock() - self.counted_at < self.count_every:
            return
        self.counting = asyncio.create_task(self.count(pool))

    async def count(self, pool: Connections) -> None:
        """Counts customers, item outcomes and quarantined events (table scans)."""
        try:
            async with pool.connection(timeout=DATABASE_TIMEOUT_SECONDS) as conn:
                outcomes = await count_outcomes(conn)
                customers = await count_customers(conn)
                quarantined = await count_quarantined(conn)
        except Exception as error:
            log.info("metrics: counts not made", error=repr(error))
            return
        self.outcomes.clear()
        for status, count in outcomes.items():
            self.outcomes.labels(status).set(count)
        self.customers.clear()
        for status, count in customers.items():
            self.customers.labels(status).set(count)
        self.quarantined.set(quarantined)
        self.counted_at = self.clock()

    def age_of_counts(self) -> float:
        return 0.0 if self.counted_at is None else self.clock() - self.counted_at

    async def stop(self) -> None:
        """Ends a count still running (the application stops)."""
        if self.counting is not None:
            self.counting.cancel()
            await asyncio.gather(self.counting, return_exceptions=True)

    def login(self, outcome: LoginVerdict) -> None:
        self.logins.labels(outcome.value).inc()

    def install(self, app: FastAPI) -> None:
        """Counts every request by method, route template and status."""

        @app.middleware("http")
        async def count_requests(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            started = time.perf_counter()
            response = await call_next(request)
            route = getattr(request.scope.get("route"), "path", "unmatched")
            self.requests.labels(request.method, route, response.status_code).inc()
            self.latency.labels(request.method, route).observe(time.perf_counter() - started)
            return response


def count_login(request: Request, outcome: LoginVerdict) -> None:
    """Counts a login's outcome in the application's metrics."""
    resources_of(request).metrics.login(outcome)
