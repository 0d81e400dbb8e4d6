"""reverseBonus, spendBonus, cancelSpend and the service's clock: the points lifecycle (§13)."""

from datetime import datetime

from services.domain.answers import Handled, Rejection, rejected, succeeded
from services.domain.commands import (
    DEFAULT_LIMITS,
    CancelSpend,
    Limits,
    ReverseBonus,
    SettlePoints,
    SpendBonus,
)
from services.domain.identity_map import IdentityMap


def reverse_bonus(aggregates: IdentityMap, item: ReverseBonus, now: datetime) -> Handled:
    """Takes back all or part of an accrual of the customer (also of a blocked one)."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    reversible = None if customer is None else customer.reversible(item.original_guid)
    if customer is None or reversible is None:
        return rejected(item, Rejection.ORIGINAL_NOT_FOUND, None if customer is None
                        else customer.id, item.uniq_id)
    amount = reversible if item.amount is None else item.amount
    if not 0 < amount <= reversible:
        return rejected(item, Rejection.EXCEEDS_ORIGINAL, customer.id, customer.uniq_id)
    customer.reverse(item.guid, item.original_guid, amount, item.event_id, item.event_date,
                     item.reason, now)
    return succeeded(item, customer.id, customer.uniq_id)


def spend_bonus(aggregates: IdentityMap, item: SpendBonus, now: datetime,
                limits: Limits = DEFAULT_LIMITS) -> Handled:
    """Spends active points: all or nothing, never while there is debt."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.CUSTOMER_NOT_FOUND)
    if customer.is_blocked:
        return rejected(item, Rejection.CUSTOMER_BLOCKED, customer.id, customer.uniq_id)
    customer.settle(now)  # points due to become active may be spent; expired ones may not
    if not customer.can_spend(item.amount, now):
        return rejected(item, Rejection.INSUFFICIENT_POINTS, customer.id, customer.uniq_id)
    if customer.lots_a_spend_takes(item.amount, now) > limits.max_allocations:
        return rejected(item, Rejection.TOO_MANY_ALLOCATIONS, customer.id, customer.uniq_id)
    customer.spend(item.guid, item.amount, item.event_id, item.event_date, item.merchant_name,
                   item.info, now, limits)
    return succeeded(item, customer.id, customer.uniq_id)


def cancel_spend(aggregates: IdentityMap, item: CancelSpend, now: datetime) -> Handled:
    """Gives back all or part of a spend of the customer (also of a blocked one)."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    cancellable = None if customer is None else customer.cancellable(item.original_guid)
    if customer is None or cancellable is None:
        return rejected(item, Rejection.ORIGINAL_NOT_FOUND, None if customer is None
                        else customer.id, item.uniq_id)
    amount = cancellable if item.amount is None else item.amount
    if not 0 < amount <= cancellable:
        return rejected(item, Rejection.EXCEEDS_ORIGINAL, customer.id, customer.uniq_id)
    customer.cancel_spend(item.guid, item.original_guid, amount, now)
    return succeeded(item, customer.id, customer.uniq_id)


def settle_points(aggregates: IdentityMap, command: SettlePoints) -> None:
    """Records the activations and expiries due at the clock's instant; nothing when none."""
    customer = aggregates.customer(command.programme, command.uniq_id)
    if customer is not None:
        customer.settle(command.at)
