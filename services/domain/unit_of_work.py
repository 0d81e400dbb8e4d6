"""Stage 2 over a batch: a unit of work applies items, each once, with every rule of docs/rules.md.

Use: `work = UnitOfWork(load)`, `work.apply(item, position)` for each item of a batch in order,
then save every aggregate of `work.pending()` in one transaction.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from eventsourcing.domain import Aggregate

from services.domain import add_bonus  # noqa: F401  (registers its use case)
from services.domain.answers import Answer, Rejection, answer
from services.domain.commands import (
    DEFAULT_LIMITS,
    Command,
    Item,
    Limits,
    PointsPolicy,
    SettlePoints,
)
from services.domain.handlers import HANDLERS, Context
from services.domain.identity_map import IdentityMap, Loader
from services.domain.outcomes import ItemOutcome

Clock = Callable[[], datetime]
Policies = Callable[[str], PointsPolicy]
"""A programme's name -> its points policy."""


NO_POLICY = PointsPolicy()
"""Points available at once, for ever."""


def default_policies(_: str) -> PointsPolicy:
    """No programme has a policy of its own: points are available at once, for ever."""
    return NO_POLICY


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


class UnitOfWork:
    """One batch: loads aggregates through `load` once, keeps them, applies items in order,
    so that later items see what earlier ones did.

    If `apply` raises (a bug, or the loader failing), discard the unit of work unsaved.
    """

    def __init__(self, load: Loader, clock: Clock = utc_now,
                 policies: Policies = default_policies, limits: Limits = DEFAULT_LIMITS) -> None:
        self._aggregates = IdentityMap(load)
        self._clock = clock
        self._policies = policies
        self._limits = limits

    def apply(self, item: Command, position: str) -> Answer | None:
        """Applies one item and returns the answer it recorded, or None when the item at this
        very position was already answered (a redelivery: nothing recorded)."""
        outcome = self._aggregates.outcome(item.programme, item.guid)
        if outcome is None:
            return self._process(item, position)
        if outcome.has_seen(position):
            return None
        if outcome.fingerprint == item.fingerprint:
            return outcome.resend(position)
        refusal = answer(item, item.uniq_id, Rejection.DUPLICATE_GUID, None)
        return outcome.refuse_reuse(position, item.fingerprint, refusal)

    def settle(self, command: SettlePoints) -> None:
        """The service's clock: records what is due for one customer (answered by no one)."""
        customer = self._aggregates.customer(command.programme, command.uniq_id)
        if customer is not None:
            customer.settle(command.at)

    def fail(self, item: Item, position: str) -> Answer | None:
        """Records the `PROCESSING_FAILED` answer of an item that could not be applied, unless
        its guid has an answer already (then the failing record changes nothing)."""
        if self._aggregates.outcome(item.programme, item.guid) is not None:
            return None
        failed = answer(item, item.uniq_id, Rejection.PROCESSING_FAILED, None)
        self._aggregates.add(ItemOutcome.record(item, position, None, failed))
        return failed

    def pending(self) -> list[Aggregate]:
        """Every loaded or created aggregate with pending events, for one atomic save."""
        return self._aggregates.pending()

    def _process(self, item: Command, position: str) -> Answer:
        """Load, call, save: finds the item's customer (rule 2: by uniqId), lets the item's use
        case handle it, and records the answer in the item's outcome."""
        found = self._aggregates.customer(item.programme, item.uniq_id)
        context = Context(self._clock(), self._policies(item.programme), self._limits,
                          self._aggregates)
        customer, refused, shown = HANDLERS[type(item)](found, item, context)
        login, customer_id = (item.uniq_id, None) if customer is None \
            else (customer.uniq_id, customer.id)
        given = answer(item, login, refused, shown)
        self._aggregates.add(ItemOutcome.record(item, position, customer_id, given))
        return given
