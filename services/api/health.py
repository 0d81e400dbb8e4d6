"""Health and figures: `GET /healthz` (the database, the followers of the event store, the last
verification), `GET /livez`, `GET /readyz`, `GET /metrics`."""

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import Field

from projections.progress import (
    FollowerStatus,
    count_quarantined,
    last_verification,
    read_followers,
    read_progress,
)
from services.api.resources import Resources
from services.api.schemas import Body, example_of

router = APIRouter(tags=["operations"])


class Follower(Body):
    """A follower of the event store (the read models' writer, the relay), by its heartbeat."""

    name: str = Field(description="The follower.", examples=["read-models"])
    position: int = Field(description="The last notification id it has done.", examples=[1017])
    target: int = Field(description="The notification id it follows up to.", examples=[1020])
    lag: int = Field(description="Events it is behind (target - position).", examples=[3])
    seconds_since_progress: float = Field(description="Seconds since its position last moved.",
                                          examples=[0.4])
    seconds_since_beat: float = Field(description="Seconds since its last heartbeat.",
                                      examples=[1.2])
    stuck: bool = Field(description="Behind and not moving for the configured time, or no "
                                    "longer beating.", examples=[False])


class LastVerification(Body):
    """The last `loyalty projections verify`."""

    finished_at: datetime = Field(description="When it finished.",
                                  examples=["2026-03-02T09:15:00.120000+00:00"])
    scope: str = Field(description="What it compared (every customer, a programme, ...).",
                       examples=["all"])
    position: int = Field(description="The read models' position it compared at.",
                          examples=[1017])
    differences: int = Field(description="Rows that differed from a fold of the events.",
                             examples=[0])
    quarantined: int = Field(description="Events left out of the read models then.",
                             examples=[0])
    ok: bool = Field(description="No differences.", examples=[True])


class Health(Body):
    """`status`: ok; degraded when a follower is stuck, events are quarantined or the last
    verification found differences (the read models cannot be trusted everywhere); unavailable
    when the database does not answer."""

    status: str = Field(description="ok, degraded or unavailable.", examples=["ok"])
    database: bool = Field(description="Whether the database answers.", examples=[True])
    event_store_head: int | None = Field(None, description="The event store's last "
                                                           "notification id.", examples=[1020])
    projection_position: int | None = Field(None, description="The read models' position.",
                                            examples=[1017])
    projection_lag: int | None = Field(None, description="Events the read models are behind.",
                                       examples=[3])
    followers: list[Follower] = Field([], description="Each follower of the event store.",
                                      examples=[[example_of(Follower)]])
    quarantined_events: int | None = Field(None, description="Events the read models left "
                                                             "out.", examples=[0])
    last_verification: LastVerification | None = Field(
        None, description="The last `loyalty projections verify`; null: never.",
        examples=[example_of(LastVerification)])


def follower(status: FollowerStatus, stuck_after: float) -> Follower:
    return Follower(name=status.name, position=status.position, target=status.target,
                    lag=status.lag, seconds_since_progress=round(status.seconds_since_progress,
                                                                 1),
                    seconds_since_beat=round(status.seconds_since_beat, 1),
                    stuck=status.stuck(stuck_after))


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(resources: Resources) -> Any:
    """Whether the database answers, how far each follower of the event store is and whether
    it is stuck, how many events the read models left out, and the last verification."""
    stuck_after = resources.stuck_after
    try:
        async with resources.read_models.connection(timeout=2.0) as conn:
            progress = await read_progress(conn)
            followers = [follower(status, stuck_after) for status in await read_followers(conn)]
            left_out = await count_quarantined(conn)
            verified = await last_verification(conn)
    except Exception:
        body = Health(status="unavailable", database=False)
        return JSONResponse(body.model_dump(by_alias=True), status_code=503)
    last = None if verified is None else LastVerification(
        finished_at=verified.finished_at, scope=verified.scope, position=verified.position,
        differences=verified.differences, quarantined=verified.quarantined,
        ok=verified.differences == 0)
    degraded = any(one.stuck for one in followers) or left_out > 0 or (
        last is not None and not last.ok)
    return Health(status="degraded" if degraded else "ok", database=True,
                  event_store_head=progress.head, projection_position=progress.position,
                  projection_lag=progress.lag, followers=followers,
                  quarantined_events=left_out, last_verification=last)


@router.get("/livez")
async def livez() -> dict[str, bool]:
    """The API answers (its event loop turns)."""
    return {"live": True}


@router.get("/readyz", responses={503: {"description": "The database does not answer."}})
async def readyz(resources: Resources) -> Any:
    """The API can serve: its database answers."""
    try:
        async with resources.read_models.connection(timeout=2.0) as conn:
            await conn.execute("SELECT 1")
    except Exception as error:
        return JSONResponse({"ready": False, "reasons": {"database": repr(error)}},
                            status_code=503)
    return {"ready": True, "reasons": {}}


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}})
async def metrics(resources: Resources) -> Response:
    """Prometheus text: HTTP requests and logins, the read models' lag, the followers, the last
    verification, item outcomes and customers (counted at most every
    `LOYALTY_METRICS_COUNT_SECONDS`), the process."""
    text = await resources.metrics.scrape(resources.read_models, resources.stuck_after)
    return Response(text, media_type=CONTENT_TYPE_LATEST)
