"""blockCustomers, activateCustomers and authorizeCustomer: one item each."""

from datetime import datetime

from events.commands import WorkItem
from events.errors import ErrorCode
from services.customers.domain import ActivationCause
from services.customers.identity_map import IdentityMap
from services.customers.results import Handled, rejected, succeeded


def block_customer(aggregates: IdentityMap, item: WorkItem) -> Handled:
    """Blocks a `New` or `Active` customer; a blocked one stays blocked."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, None, ErrorCode.CUSTOMER_NOT_FOUND)
    customer.block(item.reason)
    return succeeded(item, customer)


def activate_customer(aggregates: IdentityMap, item: WorkItem) -> Handled:
    """Makes a `Blocked` or `New` customer `Active`; an active one stays active."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, None, ErrorCode.CUSTOMER_NOT_FOUND)
    customer.activate(ActivationCause.ACTIVATE_CUSTOMERS)
    return succeeded(item, customer)


def authorize_customer(aggregates: IdentityMap, item: WorkItem, now: datetime) -> Handled:
    """A login: activates a `New` customer and shows the messages due at `now`."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, None, ErrorCode.CUSTOMER_NOT_FOUND)
    if customer.is_blocked:
        return rejected(item, customer, ErrorCode.CUSTOMER_BLOCKED)
    return succeeded(item, customer, customer.authorize(item.guid, item.method, now))
