"""What the bonus window reads: the customer and a login's outcome, from the read models.

A port with one implementation on PostgreSQL (`ReadModelWindow`); the window's own tests give
it another, in memory. Routes take it as the `Reads` parameter.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Protocol

from fastapi import Depends, Request

from projections.bonus_operations import recent_operations
from projections.customers import find_customer
from projections.item_outcomes import find_outcome
from projections.lots import find_expiries
from services.adapters.pools import Connections
from services.api.resources import resources_of
from services.contract.results import ShownMessage


@dataclass(frozen=True)
class CustomerView:
    """The customer as the window shows it: `balance` is what can be spent."""

    uniq_id: str
    status: str
    balance: Decimal
    expiries: list[tuple[date, Decimal]] = field(default_factory=list)
    """The next dates points expire on, and how many."""


@dataclass(frozen=True)
class OperationView:
    """One line of the customer's recent operations."""

    at: datetime
    merchant: str | None
    kind: str
    """What the customer sees: the operation's type (purchase, ...) or what was done."""
    amount: Decimal


@dataclass(frozen=True)
class LoginOutcome:
    """How stage 2 answered a login: an error code, or the messages shown."""

    error_code: str | None
    messages: list[ShownMessage]


RECENT_OPERATIONS = 20
NEXT_EXPIRIES = 3


class WindowReads(Protocol):
    async def customer(self, programme: str, uniq_id: str) -> CustomerView | None: ...

    async def operations(self, programme: str, uniq_id: str) -> list[OperationView]: ...

    async def link_version(self, programme: str, uniq_id: str) -> int: ...

    async def outcome(self, programme: str, guid: str) -> LoginOutcome | None: ...


class ReadModelWindow:
    """The window's reads from the read models, through the application's pool."""

    def __init__(self, pool: Connections) -> None:
        self.pool = pool

    async def customer(self, programme: str, uniq_id: str) -> CustomerView | None:
        async with self.pool.connection() as conn:
            row = await find_customer(conn, programme, uniq_id)
            expiries = [] if row is None else await find_expiries(conn, programme, uniq_id)
        return None if row is None else CustomerView(
            row.uniq_id, row.status, row.balance,
            [(expiry.date, expiry.amount) for expiry in expiries[:NEXT_EXPIRIES]])

    async def link_version(self, programme: str, uniq_id: str) -> int:
        """The customer's current link version (0 for a customer that does not exist yet)."""
        async with self.pool.connection() as conn:
            row = await find_customer(conn, programme, uniq_id)
        return 0 if row is None else row.link_version

    async def operations(self, programme: str, uniq_id: str) -> list[OperationView]:
        async with self.pool.connection() as conn:
            rows = await recent_operations(conn, programme, uniq_id, RECENT_OPERATIONS)
        return [OperationView(row.event_date or row.processed_at, row.merchant_name,
                              row.operation_type or row.kind, signed(row.kind, row.amount))
                for row in rows]

    async def outcome(self, programme: str, guid: str) -> LoginOutcome | None:
        async with self.pool.connection() as conn:
            row = await find_outcome(conn, programme, guid)
        if row is None or row.status == "pending":
            return None
        return LoginOutcome(row.error_code, [ShownMessage.model_validate(message)
                                             for message in row.messages or []])


def window_reads_of(request: Request) -> WindowReads:
    """The application's `WindowReads`."""
    return resources_of(request).window_reads


Reads = Annotated[WindowReads, Depends(window_reads_of)]
"""A route parameter: what the window reads."""


DEBITS = frozenset({"reversal", "spend", "expiry"})


def signed(kind: str, amount: Decimal) -> Decimal:
    """An operation's amount as it changed the customer's points (an activation: none)."""
    if kind == "activation":
        return Decimal(0)
    return -amount if kind in DEBITS else amount
