"""Stage 2: the customer book applies a batch of items, each once, with every rule of SPEC §5.

Use: `book = CustomerBook(load)`, `book.apply(item, position)` for each item of a batch in
order, then `application.save(*book.pending())` in one transaction.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from eventsourcing.domain import Aggregate

from events.commands import CommandType, WorkItem
from events.results import ProcessingResult
from services.customers.add_bonus import add_bonus
from services.customers.customer_status import (
    activate_customer,
    authorize_customer,
    block_customer,
)
from services.customers.domain import ItemOutcome
from services.customers.identity_map import IdentityMap, Loader
from services.customers.results import Handled, duplicate_guid

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


class CustomerBook:
    """A unit of work over one batch: loads aggregates through `load` once, caches them,
    applies items in order, so that later items see what earlier ones did.

    If `apply` raises (a bug, or the loader failing), discard the book without saving.
    """

    def __init__(self, load: Loader, clock: Clock = utc_now) -> None:
        self._aggregates = IdentityMap(load)
        self._clock = clock

    def apply(self, item: WorkItem, position: str) -> ProcessingResult | None:
        """Applies one item and returns the stage-2 result it recorded, or None when the item
        at this very position was already processed (a redelivery: nothing recorded)."""
        outcome = self._aggregates.outcome(item.programme, item.guid)
        if outcome is None:
            return self._process(item, position)
        if outcome.has_seen(position):
            return None
        if outcome.fingerprint == item.fingerprint():
            return outcome.resend(position)
        return outcome.refuse_reuse(position, item.fingerprint(), duplicate_guid(item))

    def pending(self) -> list[Aggregate]:
        """Every loaded or created aggregate with pending events, for one atomic save()."""
        return self._aggregates.pending()

    def _process(self, item: WorkItem, position: str) -> ProcessingResult:
        customer_id, result = self._decide(item)
        self._aggregates.add(ItemOutcome.record(item, position, customer_id, result))
        return result

    def _decide(self, item: WorkItem) -> Handled:
        match item.type_of_command:
            case CommandType.BLOCK_CUSTOMERS:
                return block_customer(self._aggregates, item)
            case CommandType.ACTIVATE_CUSTOMERS:
                return activate_customer(self._aggregates, item)
            case CommandType.AUTHORIZE_CUSTOMER:
                return authorize_customer(self._aggregates, item, self._clock())
            case _:
                return add_bonus(self._aggregates, item)
