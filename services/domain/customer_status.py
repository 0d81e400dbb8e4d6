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
    """A login: activates a `New` customer and shows the messages due at `now`. A login
    through a link is refused when the customer's links were revoked since the link was issued,
    or when it is processed after the link expired, whatever the read models said when the link
    was opened."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.CUSTOMER_NOT_FOUND)
    if not customer.accepts_link(item.link_version):
        return rejected(item, Rejection.LINK_REVOKED, customer.id, customer.uniq_id)
    if item.link_expires_at is not None and now >= item.link_expires_at:
        return rejected(item, Rejection.LINK_EXPIRED, customer.id, customer.uniq_id)
    if customer.is_blocked:
        return rejected(item, Rejection.CUSTOMER_BLOCKED, customer.id, customer.uniq_id)
    shown = customer.authorize(item.guid, item.method, now, limits, item.link_version)
    return succeeded(item, customer.id, customer.uniq_id, shown)


def revoke_links(aggregates: IdentityMap, item: RevokeLinks) -> Handled:
    """Every login link issued to the customer so far stops working (blocked or not)."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.CUSTOMER_NOT_FOUND)
    customer.revoke_links(item.guid)
    return succeeded(item, customer.id, customer.uniq_id)
