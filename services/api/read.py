"""The organisers' read API: customers, bonus operations (getBonusOperationExt), items."""

import asyncio
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from projections.bonus_operations import OperationFilter, PageCursor, find_operations
from projections.customers import find_customer
from projections.item_outcomes import find_outcome
from projections.lots import find_expiries
from projections.messages import find_messages
from services.api.auth import Programme
from services.api.errors import described
from services.api.history import EventHistory
from services.api.read_store import Connection
from services.api.schemas import (
    AwareDatetime,
    Customer,
    Item,
    Operation,
    OperationsPage,
    OperationsQuery,
    points,
)


def fits_text_columns(*texts: str | None) -> bool:
    """Whether PostgreSQL text can hold these strings: a key with NUL matches nothing."""
    return not any(text and "\x00" in text for text in texts)


router = APIRouter(prefix="/v1", tags=["read"], responses=described(401, 403, 422, 503))


@router.get("/customers/{uniqId}", response_model=Customer, responses=described(404))
async def get_customer(
    programme: Programme, conn: Connection, history: EventHistory,
    uniq_id: Annotated[str, Path(alias="uniqId", min_length=1, max_length=100,
                                 description="The customer's uniqId.")],
    instant: Annotated[AwareDatetime | None, Query(
        alias="asOf", description="The customer as it was at this instant (computed from its "
        "events); 404 when it did not exist yet.")] = None,
) -> Customer:
    """The customer with this uniqId in the key's programme: status, contacts, balance,
    key times and messages; now, or as it was at `asOf`."""
    if instant is not None:
        past = await asyncio.to_thread(history.as_of, programme, uniq_id, instant)
        if past is None:
            raise HTTPException(404, "no such customer at that instant")
        return Customer.of_aggregate(past)
    row = await find_customer(conn, programme, uniq_id) if fits_text_columns(uniq_id) else None
    if row is None:
        raise HTTPException(404, "no such customer")
    return Customer.of(row, await find_messages(conn, programme, uniq_id),
                       await find_expiries(conn, programme, uniq_id))


@router.post("/getBonusOperationExt", response_model=OperationsPage)
async def get_bonus_operations(
    programme: Programme, conn: Connection, query: OperationsQuery
) -> OperationsPage:
    """Bonus operations of the key's programme in (time field, id) order, a page at a time;
    ordered by `eventDate`, the operations without one (cancelled spends, expiries,
    activations) come last, by id."""
    try:
        after = None if query.cursor is None else PageCursor.decode(query.cursor,
                                                                     query.time_field)
    except ValueError as error:
        raise HTTPException(422, f"cursor: {error}") from None
    if not fits_text_columns(query.uniq_id, query.guid):
        return OperationsPage(operations=[], count=0, sum=points(Decimal(0)), next_cursor=None)
    page = await find_operations(conn, OperationFilter(
        programme=programme, uniq_id=query.uniq_id,
        kind=query.kind,
        since=query.since, until=query.until, time_field=query.time_field, guid=query.guid,
    ), query.limit, after)
    return OperationsPage(
        operations=[Operation.of(row) for row in page.operations], count=page.count,
        sum=points(page.total),
        next_cursor=None if page.next_cursor is None else page.next_cursor.encode(),
    )


@router.get("/items/{guid}", response_model=Item, responses=described(404))
async def get_item(
    programme: Programme, conn: Connection,
    guid: Annotated[str, Path(min_length=1, max_length=100, description="The item's guid.")],
) -> Item:
    """The outcome of one item of the key's programme: pending, Success or Error."""
    row = await find_outcome(conn, programme, guid) if fits_text_columns(guid) else None
    if row is None:
        raise HTTPException(404, "no such item")
    return Item.of(row)
