"""AddBonus items (addCustomerPointMessage, addBonusExtQuick): rules 2-6 of docs/rules.md.

The one use case that spans aggregates. It loads the indexes of the item's phone and e-mail,
finds the customer the item is for (rule 4 when its uniqId names none), lets that customer
decide the rest (`Customer.add_bonus`: rules 3, 5 and 6), and keeps the indexes in step with the
contacts the customer took. Every aggregate is loaded once, through the unit of work's identity
map, and asked once.
"""

from typing import NamedTuple

from eventsourcing.domain import Aggregate

from services.domain.answers import Rejection
from services.domain.commands import AddBonus
from services.domain.customer import Customer
from services.domain.handlers import Context, Handled, handles
from services.domain.identity_map import IdentityMap
from services.domain.indexes import EmailIndex, PhoneIndex


class Contacts(NamedTuple):
    """A customer's phone and e-mail at one moment."""

    phone: str | None
    email: str | None


@handles(AddBonus)
def add_bonus(found: Customer | None, item: AddBonus, context: Context) -> Handled:
    """Applies the item to its customer; for an unknown uniqId (rule 4), nobody when its phone
    is another customer's, else to the longest holder of its e-mail, else to a new customer."""
    aggregates = context.aggregates
    phone, email = aggregates.indexes(item.programme, item.phone, item.email)
    phone_holder = None if phone is None else phone.owner
    customer = found
    if customer is None:
        if phone_holder is not None:
            return Handled(None, Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER)
        longest = None if email is None else email.longest_holder
        customer = None if longest is None else aggregates.customer_by_id(longest)
    if customer is None:
        before = Contacts(None, None)
        customer = Customer.register(item)
        aggregates.add(customer)
    else:
        before = Contacts(customer.phone, customer.email)
    refused = customer.add_bonus(item, phone_holder, context.now, context.policy,
                                 context.limits)
    follow_contacts(aggregates, customer, before, phone, email)
    return Handled(customer, refused)


def follow_contacts(aggregates: IdentityMap, customer: Customer, before: Contacts,
                    phone: PhoneIndex | None, email: EmailIndex | None) -> None:
    """Brings the indexes in step with the customer's contacts, which were `before`: the index
    of a new phone (`phone`) names the customer, that of its previous phone no longer does; the
    index of a new address (`email`) counts it among its holders, that of its previous address
    no longer does. Nothing when they did not change."""
    new = Contacts(customer.phone if customer.phone != before.phone else None,
                   customer.email if customer.email != before.email else None)
    if new == Contacts(None, None):
        return
    given_up = Contacts(before.phone if new.phone else None, before.email if new.email else None)
    previous_phone, previous_email = (None, None) if given_up == Contacts(None, None) \
        else aggregates.indexes(customer.programme, *given_up)
    moved: list[Aggregate] = []
    if new.phone is not None:
        moved.append(PhoneIndex.move(customer.id, customer.programme, new.phone, phone,
                                     previous_phone))
    if new.email is not None:
        moved.append(EmailIndex.move(customer.id, customer.programme, new.email, email,
                                     previous_email))
    aggregates.add(*moved)
