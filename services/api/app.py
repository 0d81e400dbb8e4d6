"""The HTTP application: read API, health and metrics (the gateway and the window plug in).

Run it with `loyalty api`. The composition root (`services.bootstrap.api`) makes the FastAPI
application with `APPLICATION` and the `lifespan` of its resources, and `install` fits it out:
docs pages, metrics, error handlers, routers, and the `ApiResources` its routes depend on.
Nothing connects at import or at creation: the resources open when the application starts.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import structlog
import uvicorn
from fastapi import APIRouter, FastAPI

from services.api import health, read
from services.api.contracts import contracts_router
from services.api.docs import install_docs
from services.api.errors import described, install_error_handlers
from services.api.export import export_router
from services.api.gateway import gateway_router
from services.api.history import history_router
from services.api.resources import ApiResources
from services.api.window import window_router
from services.contract.rules import ValidationRules
from services.settings import DEV_API_KEY, Settings

log = structlog.get_logger(__name__)

APPLICATION: dict[str, Any] = {
    "title": "Loyalty points",
    "version": "1.0.0",
    "description": "Read API of the loyalty points service (organisers: header X-Api-Key).",
    "docs_url": None,  # FastAPI's pages load their assets from a CDN: install_docs instead
    "redoc_url": None,
}
"""The application's OpenAPI description and pages (OpenAPI at /openapi.json, browsable at
/docs and /redoc with assets served by the application itself: no CDN)."""
ROUTERS: tuple[APIRouter, ...] = (
    read.router,
    health.router,
)
"""Every router of the application: adding one is one line."""


def lifespan(resources: ApiResources) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Opens the resources when the application starts, closes them when it stops (and opens
    them again at a later start: tests start an application twice)."""

    @asynccontextmanager
    async def running(_: FastAPI) -> AsyncIterator[None]:
        await resources.open()
        try:
            yield
        finally:
            await resources.close()

    return running


def install(app: FastAPI, settings: Settings, resources: ApiResources,
            rules: ValidationRules) -> FastAPI:
    """Fits the application out for these settings, resources and validation rules."""
    app.state.resources = resources
    install_docs(app)
    resources.metrics.install(app)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(history_router(settings))
    app.include_router(export_router(settings))
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
