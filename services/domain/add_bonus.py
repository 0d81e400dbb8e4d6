"""AddBonus items (addCustomerPointMessage, addBonusExtQuick): rules 2-6 of SPEC §5."""

from datetime import datetime

from services.domain import ids
from services.domain.answers import Handled, Rejection, rejected, succeeded
from services.domain.commands import DEFAULT_LIMITS, AddBonus, Limits, PointsPolicy
from services.domain.contacts import (
    claim_contacts,
    longest_holder,
    move_email,
    move_phone,
    phone_taken,
)
from services.domain.customer import Customer, CustomerStatus
from services.domain.identity_map import IdentityMap


def add_bonus(aggregates: IdentityMap, item: AddBonus, now: datetime,
              policy: PointsPolicy, limits: Limits = DEFAULT_LIMITS) -> Handled:
    """Finds or creates the item's customer, then updates contacts, accrues, queues a message."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        newcomer = ids.customer_id(item.programme, item.uniq_id)
        if phone_taken(aggregates, item.programme, item.phone, newcomer):
            return rejected(item, Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER)
        customer = longest_holder(aggregates, item.programme, item.email)
    return update(aggregates, item, customer or register(aggregates, item), now, policy, limits)


def register(aggregates: IdentityMap, item: AddBonus) -> Customer:
    """Creates the customer with the item's phone and e-mail: `Active` by addBonusExtQuick,
    `New` otherwise."""
    status = CustomerStatus.ACTIVE if item.quick else CustomerStatus.NEW
    customer = Customer.register(item.programme, item.uniq_id, status, item.guid,
                                 phone=item.phone, email=item.email)
    aggregates.add(customer)
    claim_contacts(aggregates, customer)
    return customer


def update(aggregates: IdentityMap, item: AddBonus, customer: Customer, now: datetime,
           policy: PointsPolicy, limits: Limits = DEFAULT_LIMITS) -> Handled:
    """Applies the item to an existing (or just created) customer (rule 3, then 5 and 6)."""
    if customer.is_blocked:
        return rejected(item, Rejection.CUSTOMER_BLOCKED, customer.id, customer.uniq_id)
    if phone_taken(aggregates, item.programme, item.phone, customer.id):
        return rejected(item, Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER, customer.id,
                        customer.uniq_id)
    accrues = item.accrual is not None and item.accrual.amount > 0
    if accrues and not customer.has_room_for_lot(limits):
        return rejected(item, Rejection.TOO_MANY_LOTS, customer.id, customer.uniq_id)
    queues = item.message is not None and not item.quick
    if queues and not customer.has_room_for_message(limits):
        return rejected(item, Rejection.MESSAGE_QUEUE_FULL, customer.id, customer.uniq_id)
    move_phone(aggregates, customer, item.phone)
    move_email(aggregates, customer, item.email)
    if item.accrual is not None:
        customer.accrue(item.guid, item.command_id, item.accrual, now, policy, limits)
    if queues and item.message is not None:
        customer.queue_message(ids.message_id(item.programme, item.guid), item.guid, item.message,
                               limits)
    return succeeded(item, customer.id, customer.uniq_id)
