"""reverseBonus, spendBonus, cancelSpend and the service's clock: the points lifecycle
(docs/points.md).

The customer decides (`Customer.reverse`, `spend`, `cancel_spend`); a use case finds the
customer and answers."""

from services.domain.answers import Handled, Rejection, rejected, succeeded
from services.domain.commands import CancelSpend, ReverseBonus, SettlePoints, SpendBonus
from services.domain.handlers import Context, handles
from services.domain.identity_map import IdentityMap


@handles(ReverseBonus)
def reverse_bonus(aggregates: IdentityMap, item: ReverseBonus, context: Context) -> Handled:
    """Takes back all or part of an accrual of the customer (also of a blocked one)."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.ORIGINAL_NOT_FOUND)
    refused = customer.reverse(item.guid, item.reversal, context.now)
    if refused is not None:
        return rejected(item, refused, customer.id, customer.uniq_id)
    return succeeded(item, customer.id, customer.uniq_id)


@handles(SpendBonus)
def spend_bonus(aggregates: IdentityMap, item: SpendBonus, context: Context) -> Handled:
    """Spends active points: all or nothing, never while there is debt."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.CUSTOMER_NOT_FOUND)
    refused = customer.spend(item.guid, item.spend, context.now, context.limits)
    if refused is not None:
        return rejected(item, refused, customer.id, customer.uniq_id)
    return succeeded(item, customer.id, customer.uniq_id)


@handles(CancelSpend)
def cancel_spend(aggregates: IdentityMap, item: CancelSpend, context: Context) -> Handled:
    """Gives back all or part of a spend of the customer (also of a blocked one)."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.ORIGINAL_NOT_FOUND)
    refused = customer.cancel_spend(item.guid, item.cancel, context.now)
    if refused is not None:
        return rejected(item, refused, customer.id, customer.uniq_id)
    return succeeded(item, customer.id, customer.uniq_id)


def settle_points(aggregates: IdentityMap, command: SettlePoints) -> None:
    """Records the activations and expiries due at the clock's instant; nothing when none."""
    customer = aggregates.customer(command.programme, command.uniq_id)
    if customer is not None:
        customer.settle(command.at)
