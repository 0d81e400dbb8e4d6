"""`GET /v1/customers/{uniqId}/export`: everything the service holds about one customer, in
one JSON document (a subject-access request, GDPR art. 15; docs/privacy.md).

The profile, messages and expiries come from the read models, as `GET /v1/customers/{uniqId}`
shows them; every bonus operation, as getBonusOperationExt pages them; the login links (the
current link version, and when links were revoked); and the customer's whole history from the
event store, as `GET /v1/customers/{uniqId}/events` pages it. After an erasure the document
says when it happened, and what stays: the points and operations of the pseudonymous customer.
"""

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import Field

from events.published import cloud_event
from projections.bonus_operations import OperationFilter, PageCursor, find_operations
from projections.customers import find_customer
from projections.lots import find_expiries
from projections.messages import find_messages
from services.api.auth import Programme
from services.api.errors import described
from services.api.history import EventFilter, EventHistory, History
from services.api.read import fits_text_columns
from services.api.read_store import Connection
from services.api.schemas import Body, Customer, Operation
from services.settings import Settings

PAGE = 1000
NOTHING_FILTERED = EventFilter(frozenset(), None, None)


class LinkRevocation(Body):
    """A moment all the customer's login links issued until then stopped working."""

    revoked_at: datetime = Field(description="When.", examples=["2026-03-02T09:15:00+00:00"])
    link_version: int = Field(description="The version links issued afterwards carry.",
                              examples=[1])
    cause: str = Field(description="revokeLinks, or eraseCustomer.", examples=["revokeLinks"])


class Links(Body):
    """The customer's login links: links are not stored, only which of them still work."""

    link_version: int = Field(description="Links of an earlier version no longer open the "
                                          "bonus window.", examples=[0])
    revocations: list[LinkRevocation] = Field(description="Every revocation, oldest first.",
                                              examples=[[]])


class CustomerExport(Body):
    """Everything held about one customer of the caller's programme."""

    programme: str = Field(description="The programme.", examples=["default"])
    uniq_id: str = Field(description="The customer's uniqId.", examples=["12345678"])
    exported_at: datetime = Field(description="When this document was made.",
                                  examples=["2026-12-04T10:00:00+00:00"])
    erased: bool = Field(description="Whether the customer's personal data was erased.",
                         examples=[False])
    erased_at: datetime | None = Field(description="When it was erased; null: never.",
                                       examples=[None])
    customer: Customer = Field(description="The customer as the read API shows it: status, "
                                           "contacts, balances, expiries, messages.",
                               examples=[{"uniqId": "12345678", "status": "Active",
                                          "phone": None, "email": None, "balance": "200.00",
                                          "pending": "0.00", "debt": "0.00", "expiries": [],
                                          "createdAt": "2026-03-02T09:15:00+00:00",
                                          "activatedAt": "2026-03-02T09:15:00+00:00",
                                          "blockedAt": None,
                                          "erasedAt": "2026-12-01T10:00:00+00:00",
                                          "messages": []}])
    operations: list[Operation] = Field(description="Every bonus operation, oldest first.",
                                        examples=[[]])
    links: Links = Field(description="The login links' version and revocations.",
                         examples=[{"linkVersion": 1, "revocations": [
                             {"revokedAt": "2026-12-01T10:00:00+00:00", "linkVersion": 1,
                              "cause": "eraseCustomer"}]}])
    events: list[dict[str, Any]] = Field(
        description="The customer's history from the event store, in order, each event as "
                    "on loyalty.events (personal fields included; null once erased).",
        examples=[[]])


def export_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["read"], responses=described(401, 403, 422, 503))

    @router.get("/customers/{uniqId}/export", response_model=CustomerExport,
                responses=described(404))
    async def export_customer(
        programme: Programme, conn: Connection, history: EventHistory,
        uniq_id: Annotated[str, Path(alias="uniqId", min_length=1, max_length=100,
                                     description="The customer's uniqId.")],
    ) -> CustomerExport:
        """Everything held about the customer, in one document: a subject-access export."""
        row = (await find_customer(conn, programme, uniq_id)
               if fits_text_columns(uniq_id) else None)
        if row is None:
            raise HTTPException(404, "no such customer")
        customer = Customer.of(row, await find_messages(conn, programme, uniq_id),
                               await find_expiries(conn, programme, uniq_id))
        operations: list[Operation] = []
        cursor: PageCursor | None = None
        while True:
            page = await find_operations(conn, OperationFilter(programme=programme,
                                                               uniq_id=uniq_id), PAGE, cursor)
            operations += [Operation.of(operation) for operation in page.operations]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        events = await asyncio.to_thread(every_event, history, programme, uniq_id)
        return CustomerExport(
            programme=programme, uniq_id=uniq_id, exported_at=datetime.now(UTC),
            erased=row.erased_at is not None, erased_at=row.erased_at, customer=customer,
            operations=operations,
            links=Links(link_version=row.link_version, revocations=[
                LinkRevocation(revoked_at=event.timestamp, link_version=event.link_version,
                               cause="eraseCustomer" if type(event).__name__ == "CustomerErased"
                               else "revokeLinks")
                for event in events if hasattr(event, "link_version")]),
            events=[cloud_event(event, programme=programme, uniq_id=uniq_id,
                                source=settings.events_source) for event in events])

    return router


def every_event(history: History, programme: str, uniq_id: str) -> list[Any]:
    """The customer's whole history, read a page at a time."""
    found: list[Any] = []
    after = 0
    while True:
        page = history.page(programme, uniq_id, after, PAGE, NOTHING_FILTERED)
        if page is None:
            return found
        events, last = page
        found += events
        if last is None:
            return found
        after = last
