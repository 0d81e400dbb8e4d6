"""The use cases of stage 2: which one handles each domain command, and those of one customer.

A use case is registered by the command's class (`@handles(SpendBonus)`); the unit of work
looks it up by the item's class, so a new command type needs no switch anywhere. The unit of
work hands it the item's customer (rule 2 of docs/rules.md: found by uniqId; None when there is
none) and answers the item from what it returns. Here are the use cases of one customer: the
customer decides (`services.domain.customer`), the use case answers an unknown one. AddBonus,
which spans aggregates, has a module of its own (`services.domain.add_bonus`).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from services.domain.answers import Rejection, ShownMessage
from services.domain.commands import (
    ActivateCustomer,
    AuthorizeCustomer,
    BlockCustomer,
    CancelSpend,
    EraseCustomer,
    Limits,
    PointsPolicy,
    ReverseBonus,
    RevokeLinks,
    SpendBonus,
)
from services.domain.customer import ActivationCause, Customer
from services.domain.identity_map import IdentityMap


class Context(NamedTuple):
    """What a use case may need besides the item and its customer: the time, the programme's
    points policy, how much one customer may hold, and the unit of work's aggregates (to load
    others than the item's customer)."""

    now: datetime
    policy: PointsPolicy
    limits: Limits
    aggregates: IdentityMap


class Handled(NamedTuple):
    """What a use case did with one item: the customer it applied the item to (None: none),
    the rule that refused it (None: applied), and the messages a login showed."""

    customer: Customer | None
    refused: Rejection | None = None
    shown: list[ShownMessage] | None = None


Handler = Callable[[Customer | None, Any, Context], Handled]
H = TypeVar("H", bound=Handler)

HANDLERS: dict[type, Handler] = {}
"""Every domain command's use case."""


def handles(command: type) -> Callable[[H], H]:
    """Registers the decorated function as the use case of `command`."""

    def register(handler: H) -> H:
        HANDLERS[command] = handler
        return handler

    return register


@handles(BlockCustomer)
def block_customer(customer: Customer | None, item: BlockCustomer, _: Context) -> Handled:
    """Blocks a `New` or `Active` customer; a blocked one stays blocked."""
    if customer is None:
        return Handled(None, Rejection.CUSTOMER_NOT_FOUND)
    customer.block(item.reason)
    return Handled(customer)


@handles(ActivateCustomer)
def activate_customer(customer: Customer | None, _: ActivateCustomer, __: Context) -> Handled:
    """Makes a `Blocked` or `New` customer `Active`; an active one stays active."""
    if customer is None:
        return Handled(None, Rejection.CUSTOMER_NOT_FOUND)
    customer.activate(ActivationCause.ACTIVATE_CUSTOMERS)
    return Handled(customer)


@handles(AuthorizeCustomer)
def authorize_customer(customer: Customer | None, item: AuthorizeCustomer,
                       context: Context) -> Handled:
    """A login: the customer decides and shows the messages due (`Customer.authorize`)."""
    if customer is None:
        return Handled(None, Rejection.CUSTOMER_NOT_FOUND)
    shown = customer.authorize(item.guid, item.method, context.now, context.limits,
                               item.link_version, item.link_expires_at)
    if isinstance(shown, Rejection):
        return Handled(customer, shown)
    return Handled(customer, shown=shown)


@handles(RevokeLinks)
def revoke_links(customer: Customer | None, item: RevokeLinks, _: Context) -> Handled:
    """Every login link issued to the customer so far stops working (blocked or not)."""
    if customer is None:
        return Handled(None, Rejection.CUSTOMER_NOT_FOUND)
    customer.revoke_links(item.guid)
    return Handled(customer)


@handles(EraseCustomer)
def erase_customer(customer: Customer | None, item: EraseCustomer, context: Context) -> Handled:
    """Forgets who the customer is (`Customer.erase`), after letting go of its phone and
    address, so that another customer may take them."""
    if customer is None:
        return Handled(None, Rejection.CUSTOMER_NOT_FOUND)
    phone, email = context.aggregates.indexes(customer.programme, customer.phone,
                                              customer.email)
    if phone is not None:
        phone.release(customer.id)
    if email is not None:
        email.remove_holder(customer.id)
    customer.erase(item.guid)
    return Handled(customer)


@handles(ReverseBonus)
def reverse_bonus(customer: Customer | None, item: ReverseBonus, context: Context) -> Handled:
    """Takes back all or part of an accrual of the customer (`Customer.reverse`); an unknown
    customer has no accrual to name."""
    if customer is None:
        return Handled(None, Rejection.ORIGINAL_NOT_FOUND)
    return Handled(customer, customer.reverse(item.guid, item.reversal, context.now))


@handles(SpendBonus)
def spend_bonus(customer: Customer | None, item: SpendBonus, context: Context) -> Handled:
    """Spends active points (`Customer.spend`)."""
    if customer is None:
        return Handled(None, Rejection.CUSTOMER_NOT_FOUND)
    return Handled(customer, customer.spend(item.guid, item.spend, context.now,
                                            context.limits))


@handles(CancelSpend)
def cancel_spend(customer: Customer | None, item: CancelSpend, context: Context) -> Handled:
    """Gives back all or part of a spend of the customer (`Customer.cancel_spend`); an unknown
    customer has no spend to name."""
    if customer is None:
        return Handled(None, Rejection.ORIGINAL_NOT_FOUND)
    return Handled(customer, customer.cancel_spend(item.guid, item.cancel, context.now))
