"""Prometheus metrics: HTTP request counters, and read-model figures computed at scrape time.

`/metrics` needs no key, so it carries no figure per programme (nor any customer's data):
customers and item outcomes are counted over all programmes together.
"""

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from psycopg import AsyncConnection

from projections.customers import count_customers
from projections.item_outcomes import count_outcomes
from projections.progress import read_followers, read_progress


class ApiMetrics:
    """The metrics of one application, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "loyalty_http_requests", "HTTP requests answered.",
            ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "loyalty_http_request_seconds", "Time to answer an HTTP request.",
            ["method", "route"], registry=self.registry)
        self.lag = Gauge("loyalty_projection_lag_events",
                         "Events stored but not yet in the read models.", registry=self.registry)
        self.head = Gauge("loyalty_event_store_head",
                          "Highest notification id in the event store.", registry=self.registry)
        self.items = Gauge("loyalty_items_processed", "Items with a stage-2 outcome.",
                           ["status"], registry=self.registry)
        self.follower_lag = Gauge("loyalty_follower_lag_events", "Events a follower of the "
                                  "event store has still to handle (read models, relay).",
                                  ["follower"], registry=self.registry)
        self.follower_stuck = Gauge("loyalty_follower_stuck", "1 when a follower is behind "
                                    "and has not moved for the configured time, or no longer "
                                    "beats.", ["follower"], registry=self.registry)
        self.follower_idle = Gauge("loyalty_follower_seconds_without_progress", "Seconds a "
                                   "follower has been behind without moving.", ["follower"],
                                   registry=self.registry)
        self.customers = Gauge("loyalty_customers", "Customers by status, all programmes "
                               "together (this endpoint needs no key: nothing per programme).",
                               ["status"], registry=self.registry)

    async def scrape(self, conn: AsyncConnection[Any], stuck_after: float) -> bytes:
        """Reads the figures from the database and renders every metric as Prometheus text."""
        progress = await read_progress(conn)
        self.lag.set(progress.lag)
        self.head.set(progress.head)
        for follower in await read_followers(conn):
            self.follower_lag.labels(follower.name).set(follower.lag)
            self.follower_stuck.labels(follower.name).set(int(follower.stuck(stuck_after)))
            self.follower_idle.labels(follower.name).set(
                follower.seconds_since_progress if follower.lag else 0)
        for status, count in (await count_outcomes(conn)).items():
            self.items.labels(status).set(count)
        self.customers.clear()
        for status, count in (await count_customers(conn)).items():
            self.customers.labels(status).set(count)
        return generate_latest(self.registry)

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
