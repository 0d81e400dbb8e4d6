"""The AddBonus item (addCustomerPointMessage, addBonusExtQuick): rules 2-6 of SPEC §5."""

from events.commands import CommandType, WorkItem
from events.errors import ErrorCode
from services.customers import ids
from services.customers.contacts import longest_holder, move_email, move_phone, phone_taken
from services.customers.domain import Customer, CustomerStatus
from services.customers.identity_map import IdentityMap
from services.customers.results import Handled, rejected, succeeded


def add_bonus(aggregates: IdentityMap, item: WorkItem) -> Handled:
    """Finds or creates the item's customer, then updates contacts, accrues, queues a message."""
    customer = aggregates.customer(item.programme, item.uniq_id)
    if customer is None:
        newcomer = ids.customer_id(item.programme, item.uniq_id)
        if phone_taken(aggregates, item.programme, item.phone, newcomer):
            return rejected(item, None, ErrorCode.PHONE_BELONGS_TO_ANOTHER_CUSTOMER)
        customer = longest_holder(aggregates, item.programme, item.email)
    return update(aggregates, item, customer or register(aggregates, item))


def register(aggregates: IdentityMap, item: WorkItem) -> Customer:
    """Creates the customer: `New` by addCustomerPointMessage, `Active` by addBonusExtQuick."""
    quick = item.type_of_command is CommandType.ADD_BONUS_EXT_QUICK
    status = CustomerStatus.ACTIVE if quick else CustomerStatus.NEW
    customer = Customer.register(item.programme, item.uniq_id, status, item.guid)
    aggregates.add(customer)
    return customer


def update(aggregates: IdentityMap, item: WorkItem, customer: Customer) -> Handled:
    """Applies the item to an existing (or just created) customer (rule 3, then 5 and 6)."""
    if customer.is_blocked:
        return rejected(item, customer, ErrorCode.CUSTOMER_BLOCKED)
    if phone_taken(aggregates, item.programme, item.phone, customer.id):
        return rejected(item, customer, ErrorCode.PHONE_BELONGS_TO_ANOTHER_CUSTOMER)
    move_phone(aggregates, customer, item.phone)
    move_email(aggregates, customer, item.email)
    if item.accrual is not None:
        customer.accrue(item.guid, item.command_id, item.accrual)
    if item.message is not None and item.type_of_command is CommandType.ADD_CUSTOMER_POINT_MESSAGE:
        message_id = ids.message_id(item.programme, item.guid)
        customer.queue_message(message_id, item.guid, item.message)
    return succeeded(item, customer)
