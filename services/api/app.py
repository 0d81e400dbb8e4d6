"""The HTTP application: read API, health and metrics (the gateway and the window plug in).

Run it with `loyalty api`, or `serve(settings)`. Nothing connects at import or at creation:
the pool of read-model connections opens when the application starts.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
import uvicorn
from fastapi import APIRouter, FastAPI

from services.api import health, read
from services.api.auth import ApiKeys
from services.api.contracts import contracts_router
from services.api.docs import install_docs
from services.api.errors import described, install_error_handlers
from services.api.gateway import gateway_router
from services.api.history import History, history_router
from services.api.login_limits import PostgresHits
from services.api.metrics import ApiMetrics
from services.api.read_store import read_pool
from services.api.window import window_router
from services.api.window_reads import ReadModelWindow
from services.contract.rules import ValidationRules
from services.settings import DEV_API_KEY, Settings

log = structlog.get_logger(__name__)

ROUTERS: tuple[APIRouter, ...] = (
    read.router,
    health.router,
)
"""Every router of the application: adding one is one line."""


def create_app(settings: Settings, rules: ValidationRules) -> FastAPI:
    """The FastAPI application for these settings (OpenAPI at /openapi.json, browsable at
    /docs and /redoc with assets served by the application itself: no CDN)."""

    @asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[None]:
        # A pool per start: a closed pool cannot be opened again (tests start apps twice).
        running.state.pool = pool = read_pool(settings)
        await pool.open(wait=False)  # tables: `loyalty prepare`, as for every service
        if getattr(running.state, "window_reads", None) is None:
            running.state.window_reads = ReadModelWindow(pool)
        if getattr(running.state, "login_hits", None) is None:
            running.state.login_hits = PostgresHits(pool)
        running.state.history = history = History(settings)
        try:
            yield
        finally:
            await running.state.metrics.stop()
            await pool.close()
            await asyncio.to_thread(history.close)

    app = FastAPI(
        title="Loyalty points",
        version="1.0.0",
        description="Read API of the loyalty points service (organisers: header X-Api-Key).",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load their assets from a CDN: install_docs instead
        redoc_url=None,
    )
    install_docs(app)
    app.state.api_keys = ApiKeys.of(settings)
    app.state.stuck_after = settings.stuck_after_seconds
    app.state.metrics = ApiMetrics(count_every=settings.metrics_count_seconds)
    app.state.metrics.install(app)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(history_router(settings))
    app.include_router(gateway_router(settings, rules))
    app.include_router(window_router(settings), responses=described(422))
    app.include_router(contracts_router(rules))
    return app


def serve(app: FastAPI, settings: Settings) -> None:
    """Runs the application with uvicorn on settings.http_host:settings.http_port."""
    if settings.dev_mode:
        log.warning("development mode: forgeable development secrets may be in use",
                    api_key=DEV_API_KEY if not settings.api_keys else None)
    log.info("api listening", host=settings.http_host, port=settings.http_port)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port,
                log_config=None, access_log=False)
