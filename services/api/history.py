"""A customer's history, read from the event store (the source of truth), not the read models.

`GET /v1/customers/{uniqId}/events`: the customer's events in order, in their published form
(the CloudEvents JSON of `loyalty.events`), a page at a time, filtered by type and time.
`GET /v1/customers/{uniqId}?asOf=...` (in `services.api.read`) answers from `History.as_of`.
The event store is synchronous: every call runs in a worker thread.
"""

import asyncio
import base64
import binascii
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, cast, get_args

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import Field

from events.published import cloud_event
from services.adapters.event_store import EventStore
from services.api.auth import Programme
from services.api.errors import described
from services.api.resources import resources_of
from services.api.schemas import AwareDatetime, Body
from services.domain import Customer, ids
from services.settings import Settings

EventType = Literal[
    "CustomerCreated", "PhoneChanged", "EmailChanged", "PointsAccrued", "MessageQueued",
    "MessageShown", "CustomerActivated", "CustomerBlocked", "CustomerAuthorized", "LinksRevoked",
    "PointsActivated", "PointsReversed", "PointsSpent", "SpendCancelled", "PointsExpired",
    "DebtRepaid", "CustomerErased",
]
"""The names of the published event types (`events.PUBLISHED`), for the OpenAPI document."""
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
SCAN = 500
"""Events read from the store at a time while a page is filled."""


@dataclass(frozen=True)
class EventFilter:
    types: frozenset[str]
    since: datetime | None
    until: datetime | None

    def admits(self, event: Any) -> bool:
        return ((not self.types or type(event).__name__ in self.types)
                and (self.since is None or event.timestamp >= self.since)
                and (self.until is None or event.timestamp < self.until))


class History:
    """Reads customers' events; the store is opened (`open_store`) at the first call, and
    again at the first call after `close`."""

    def __init__(self, open_store: Callable[[], EventStore]) -> None:
        self.open_store = open_store
        self._store: EventStore | None = None
        self._lock = threading.Lock()

    def store(self) -> EventStore:
        with self._lock:
            if self._store is None:
                self._store = self.open_store()
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def page(self, programme: str, uniq_id: str, after: int, limit: int,
             wanted: EventFilter) -> tuple[list[Any], int | None] | None:
        """Up to `limit` of the customer's events after version `after` that the filter
        admits, and the version to continue after (None: no more); None: no such customer.

        Only what the page needs is read: the events before `from` are skipped (found by a
        binary search on their times), the scan stops at the first event at or after `to`,
        and events are decoded one at a time until the page is full."""
        store = self.store()
        customer_id = ids.customer_id(programme, uniq_id)
        store.keyring.refresh([customer_id])  # the key as it is now: erased, perhaps
        position = after if wanted.since is None else max(after, store.last_version_where(
            customer_id, lambda event: event.timestamp < wanted.since))
        found: list[Any] = []
        while True:
            read, events = 0, store.events.get(customer_id, gt=position, limit=SCAN)
            for event in cast("Iterator[Any]", events):
                read, position = read + 1, event.originator_version
                if wanted.until is not None and event.timestamp >= wanted.until:
                    return found, None
                if wanted.admits(event):
                    found.append(event)
                    if len(found) > limit:
                        return found[:limit], found[limit - 1].originator_version
            if read < SCAN:
                break
        if after == 0 and position == 0:
            return None
        return found, None

    def as_of(self, programme: str, uniq_id: str, instant: datetime) -> Customer | None:
        """The customer as it was at `instant` (after its last event recorded by then), or
        None when it did not exist yet: from its latest snapshot at or before that version,
        then the events after the snapshot up to it (`EventStore.load`)."""
        store = self.store()
        customer_id = ids.customer_id(programme, uniq_id)
        store.keyring.refresh([customer_id])  # the key as it is now: erased, perhaps
        version = store.last_version_where(customer_id, lambda event: event.timestamp <= instant)
        found = None if version == 0 else store.load(customer_id, version)
        return found if isinstance(found, Customer) else None


class EventPage(Body):
    """A page of a customer's events, oldest first, as published on loyalty.events."""

    events: list[dict[str, Any]] = Field(
        description="The events, as on loyalty.events (docs/events.md).",
        examples=[[{"specversion": "1.0", "id": "4d1983b8-b843-5e51-afaa-a05a6d607641",
                    "type": "CustomerBlocked", "version": 1, "source": "loyalty",
                    "subject": "12345678", "programme": "default",
                    "time": "2026-03-02T09:15:07.120000+00:00",
                    "datacontenttype": "application/json", "data": {"reason": "fraud"}}]])
    next_cursor: str | None = Field(description="Pass it as cursor for the next page; null: "
                                                "the last page.", examples=[None])


def encode_cursor(version: int) -> str:
    return base64.urlsafe_b64encode(f"v{version}".encode()).decode().rstrip("=")


def decode_cursor(text: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not decoded.startswith("v") or not decoded[1:].isdigit():
        raise HTTPException(422, "cursor: malformed cursor")
    return int(decoded[1:])


def history_of(request: Request) -> History:
    """The application's `History`."""
    return resources_of(request).history


EventHistory = Annotated[History, Depends(history_of)]
"""A route parameter: customers' events, from the event store."""


def history_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["history"], responses=described(401, 403, 422, 503))

    @router.get("/customers/{uniqId}/events", response_model=EventPage,
                responses=described(404))
    async def get_customer_events(
        programme: Programme, history: EventHistory,
        uniq_id: Annotated[str, Path(alias="uniqId", min_length=1, max_length=100,
                                     description="The customer's uniqId.")],
        types: Annotated[Sequence[EventType] | None, Query(
            alias="type", description="Only events of these types.")] = None,
        since: Annotated[AwareDatetime | None, Query(
            alias="from", description="Events at or after this instant.")] = None,
        until: Annotated[AwareDatetime | None, Query(
            alias="to", description="Events before this instant.")] = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="Events per page.")] = 100,
        cursor: Annotated[str | None, Query(
            max_length=100, description="nextCursor of the previous page, opaque.")] = None,
    ) -> EventPage:
        """The customer's events in the order they happened, a page at a time (`nextCursor`
        continues), as on the loyalty.events topic."""
        after = 0 if cursor is None else decode_cursor(cursor)
        wanted = EventFilter(frozenset(types or ()), since, until)
        page = await asyncio.to_thread(history.page, programme, uniq_id, after, limit, wanted)
        if page is None:
            raise HTTPException(404, "no such customer")
        events, last = page
        return EventPage(
            events=[cloud_event(event, programme=programme, uniq_id=uniq_id,
                                source=settings.events_source) for event in events],
            next_cursor=None if last is None else encode_cursor(last))

    return router
