"""blockCustomers, activateCustomers, authorizeCustomer, revokeLinks and eraseCustomer: one item
each."""

from services.domain.answers import Handled, Rejection, rejected, succeeded
from services.domain.commands import (
    ActivateCustomer,
    AuthorizeCustomer,
    BlockCustomer,
    EraseCustomer,
    RevokeLinks,
)
from services.domain.customer import ActivationCause
from services.domain.handlers import Context, handles
from services.domain.identity_map import IdentityMap


@handles(BlockCustomer)
def block_customer(aggregates: IdentityMap, item: BlockCustomer, _: Context) -> Handled:
    """Blocks a `New` or `Active` customer; a blocked one stays blocked."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.CUSTOMER_NOT_FOUND)
    customer.block(item.reason)
    return succeeded(item, customer.id, customer.uniq_id)


@handles(ActivateCustomer)
def activate_customer(aggregates: IdentityMap, item: ActivateCustomer, _: Context) -> Handled:
    """Makes a `Blocked` or `New` customer `Active`; an active one stays active."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.CUSTOMER_NOT_FOUND)
    customer.activate(ActivationCause.ACTIVATE_CUSTOMERS)
    return succeeded(item, customer.id, customer.uniq_id)


@handles(AuthorizeCustomer)
def authorize_customer(aggregates: IdentityMap, item: AuthorizeCustomer,
                       context: Context) -> Handled:
    """A login: the customer decides (`Customer.authorize`)."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.CUSTOMER_NOT_FOUND)
    shown = customer.authorize(item.guid, item.method, context.now, context.limits,
                               item.link_version, item.link_expires_at)
    if isinstance(shown, Rejection):
        return rejected(item, shown, customer.id, customer.uniq_id)
    return succeeded(item, customer.id, customer.uniq_id, shown)


@handles(RevokeLinks)
def revoke_links(aggregates: IdentityMap, item: RevokeLinks, _: Context) -> Handled:
    """Every login link issued to the customer so far stops working (blocked or not)."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.CUSTOMER_NOT_FOUND)
    customer.revoke_links(item.guid)
    return succeeded(item, customer.id, customer.uniq_id)


@handles(EraseCustomer)
def erase_customer(aggregates: IdentityMap, item: EraseCustomer, _: Context) -> Handled:
    """Forgets who the customer is (`Customer.erase`), after letting go of its phone and
    address, so that another customer may take them."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        return rejected(item, Rejection.CUSTOMER_NOT_FOUND)
    if customer.phone is not None and (phone := aggregates.phone(item.programme,
                                                                 customer.phone)) is not None:
        phone.release(customer.id)
    if customer.email is not None and (email := aggregates.email(item.programme,
                                                                 customer.email)) is not None:
        email.remove_holder(customer.id)
    customer.erase(item.guid)
    return succeeded(item, customer.id, customer.uniq_id)
