"""AddBonus items (addCustomerPointMessage, addBonusExtQuick): rules 2-6 of docs/rules.md."""

from services.domain import ids
from services.domain.answers import Handled, Rejection, rejected, succeeded
from services.domain.commands import AddBonus
from services.domain.contacts import (
    claim_contacts,
    longest_holder,
    move_email,
    move_phone,
    phone_taken,
)
from services.domain.customer import Customer, CustomerStatus
from services.domain.handlers import Context, handles
from services.domain.identity_map import IdentityMap


@handles(AddBonus)
def add_bonus(aggregates: IdentityMap, item: AddBonus, context: Context) -> Handled:
    """Finds or creates the item's customer, then updates contacts, accrues, queues a message."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        newcomer = ids.customer_id(item.programme, item.uniq_id)
        if phone_taken(aggregates, item.programme, item.phone, newcomer):
            return rejected(item, Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER)
        customer = longest_holder(aggregates, item.programme, item.email)
    return update(aggregates, item, customer or register(aggregates, item), context)


def register(aggregates: IdentityMap, item: AddBonus) -> Customer:
    """Creates the customer with the item's phone and e-mail: `Active` by addBonusExtQuick,
    `New` otherwise."""
    status = CustomerStatus.ACTIVE if item.quick else CustomerStatus.NEW
    customer = Customer.register(item.programme, item.uniq_id, status, item.guid,
                                 phone=item.phone, email=item.email)
    aggregates.add(customer)
    claim_contacts(aggregates, customer)
    return customer


def update(aggregates: IdentityMap, item: AddBonus, customer: Customer,
           context: Context) -> Handled:
    """Applies the item to an existing (or just created) customer (rule 3, then 5 and 6):
    the customer decides whether it takes the accrual and the message, the phone's index
    whether the phone is free."""
    message = None if item.quick else item.message
    refused = customer.refuses_bonus(
        item.accrual, message, context.limits,
        phone_taken=phone_taken(aggregates, item.programme, item.phone, customer.id))
    if refused is not None:
        return rejected(item, refused, customer.id, customer.uniq_id)
    move_phone(aggregates, customer, item.phone)
    move_email(aggregates, customer, item.email)
    if item.accrual is not None:
        customer.accrue(item.guid, item.command_id, item.accrual, context.now, context.policy,
                        context.limits)
    if message is not None:
        customer.queue_message(ids.message_id(item.programme, item.guid), item.guid, message)
    return succeeded(item, customer.id, customer.uniq_id)
