"""Liveness and figures: `GET /healthz` (database and projection lag), `GET /metrics`."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from psycopg_pool import AsyncConnectionPool

from projections.progress import read_progress
from services.api.schemas import Body

router = APIRouter(tags=["operations"])


class Health(Body):
    """`status` is ok when the database answers; the lag is in events."""

    status: str
    database: bool
    event_store_head: int | None = None
    projection_position: int | None = None
    projection_lag: int | None = None


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(request: Request) -> Any:
    """Whether the database answers, and how far the read models lag behind the event store."""
    pool: AsyncConnectionPool[Any] = request.app.state.pool
    try:
        async with pool.connection(timeout=2.0) as conn:
            progress = await read_progress(conn)
    except Exception:
        body = Health(status="unavailable", database=False)
        return JSONResponse(body.model_dump(by_alias=True), status_code=503)
    return Health(status="ok", database=True, event_store_head=progress.head,
                  projection_position=progress.position, projection_lag=progress.lag)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}})
async def metrics(request: Request) -> Response:
    """Prometheus text: projection lag, items processed, customers, HTTP requests."""
    pool: AsyncConnectionPool[Any] = request.app.state.pool
    async with pool.connection() as conn:
        text = await request.app.state.metrics.scrape(conn)
    return Response(text, media_type=CONTENT_TYPE_LATEST)
