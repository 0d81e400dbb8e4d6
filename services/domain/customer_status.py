"""blockCustomers, activateCustomers, authorizeCustomer and revokeLinks: one item each."""

from datetime import datetime

from services.domain.answers import Handled, Rejection, rejected, succeeded
from services.domain.commands import (
    DEFAULT_LIMITS,
    ActivateCustomer,
    AuthorizeCustomer,
    BlockCustomer,
    Limits,
    RevokeLinks,
)
from services.domain.customer import ActivationCause
from services.domain.identity_map import IdentityMap


def block_customer(aggregates: IdentityMap, item: BlockCustomer) -> Handled:
    """Blocks a `New` or `Active` customer; a blocked one stays blocked."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.CUSTOMER_NOT_FOUND)
    customer.block(item.reason)
    return succeeded(item, customer.id, customer.uniq_id)


def activate_customer(aggregates: IdentityMap, item: ActivateCustomer) -> Handled:
    """Makes a `Blocked` or `New` customer `Active`; an active one stays active."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.CUSTOMER_NOT_FOUND)
    customer.activate(ActivationCause.ACTIVATE_CUSTOMERS)
    return succeeded(item, customer.id, customer.uniq_id)


def authorize_customer(aggregates: IdentityMap, item: AuthorizeCustomer,
                       now: datetime, limits: Limits = DEFAULT_LIMITS) -> Handled:
    """A login: activates a `New` customer and shows the messages due at `now`."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.CUSTOMER_NOT_FOUND)
    if customer.is_blocked:
        return rejected(item, Rejection.CUSTOMER_BLOCKED, customer.id, customer.uniq_id)
    shown = customer.authorize(item.guid, item.method, now, limits)
    return succeeded(item, customer.id, customer.uniq_id, shown)


def revoke_links(aggregates: IdentityMap, item: RevokeLinks) -> Handled:
    """Every login link issued to the customer so far stops working (blocked or not)."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.CUSTOMER_NOT_FOUND)
    customer.revoke_links(item.guid)
    return succeeded(item, customer.id, customer.uniq_id)
