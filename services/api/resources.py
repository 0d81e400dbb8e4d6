"""What the HTTP application uses, made by the composition root and handed to it whole.

`services.bootstrap.api` builds one `ApiResources` (the read models' pool, the event store's
history, the Kafka pipeline, the window's reads and hit counter, the keys, the metrics) and
gives it to the application (`services.api.app.install`), which keeps it as its one piece of
state and opens and closes it with its lifespan. A route names what it uses as a parameter: a
FastAPI dependency of the module that defines the thing (`Connection`, `Upstream`, `Reads`,
`Hits`, `EventHistory`, `Programme`), each of which reads it from here. Tests give fakes
through `bootstrap.api(..., pipeline=, window_reads=, login_hits=)`, or swap one dependency
with `app.dependency_overrides`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

if TYPE_CHECKING:
    from services.adapters.pools import PoolPerStart
    from services.api.auth import ApiKeys
    from services.api.history import History
    from services.api.login_limits import HitCounter
    from services.api.metrics import ApiMetrics
    from services.api.pipeline import Pipeline
    from services.api.window_reads import WindowReads


@dataclass(frozen=True)
class ApiResources:
    """Everything the application's routes use besides the request."""

    read_models: PoolPerStart
    """Connections to the read models, a pool per start of the application."""
    history: History
    """Customers' events, read from the event store (opened at the first read)."""
    pipeline: Pipeline
    """The way into Kafka: organisers' commands and the window's items."""
    window_reads: WindowReads
    login_hits: HitCounter
    """The bonus window's login limits, shared by every API instance."""
    keys: ApiKeys
    """The organisers' API keys, each of one programme."""
    metrics: ApiMetrics
    stuck_after: float
    """Seconds after which a follower that is behind and does not move is stuck."""

    async def open(self) -> None:
        """At the application's start: the pool opens, the producer starts (or, when Kafka
        does not answer yet, at the first request)."""
        await self.read_models.open()
        await self.pipeline.connect()

    async def close(self) -> None:
        """At the application's stop: everything closed, ready to be opened again."""
        await self.metrics.stop()
        await self.pipeline.close()
        await self.read_models.close()
        await asyncio.to_thread(self.history.close)


def resources_of(request: Request) -> ApiResources:
    """The resources of the application serving `request`."""
    resources: ApiResources = request.app.state.resources
    return resources


Resources = Annotated[ApiResources, Depends(resources_of)]
"""A route parameter: the application's resources (health reads several of them)."""
