"""A customer's phone and e-mail, kept in step with the phone and e-mail indexes."""

from uuid import UUID

from services.domain.customer import Customer
from services.domain.identity_map import IdentityMap
from services.domain.indexes import EmailIndex, PhoneIndex


def phone_taken(aggregates: IdentityMap, programme: str, phone: str | None, customer: UUID) -> bool:
    """Whether `phone` belongs to a customer other than `customer`."""
    if phone is None:
        return False
    index = aggregates.phone(programme, phone)
    return index is not None and index.is_taken_by_another(customer)


def longest_holder(aggregates: IdentityMap, programme: str, email: str | None) -> Customer | None:
    """The customer who has held `email` longest, if anyone holds it (rule 4 of docs/rules.md)."""
    index = None if email is None else aggregates.email(programme, email)
    holder = None if index is None else index.longest_holder
    return None if holder is None else aggregates.customer_by_id(holder)


def move_phone(aggregates: IdentityMap, customer: Customer, phone: str | None) -> None:
    """Gives a free `phone` to the customer and frees the customer's old one."""
    if phone is None or phone == customer.phone:
        return
    if customer.phone is not None:
        previous = aggregates.phone(customer.programme, customer.phone)
        if previous is not None:
            previous.release(customer.id)
    claim_phone(aggregates, customer, phone)
    customer.change_phone(phone)


def move_email(aggregates: IdentityMap, customer: Customer, email: str | None) -> None:
    """Replaces the customer's address, even one that other customers hold too (rule 3)."""
    if email is None or customer.has_email(email):
        return
    if customer.email is not None:
        previous = aggregates.email(customer.programme, customer.email)
        if previous is not None:
            previous.remove_holder(customer.id)
    hold_email(aggregates, customer, email)
    customer.change_email(email)


def claim_contacts(aggregates: IdentityMap, customer: Customer) -> None:
    """Enters a new customer's phone and e-mail (given at its creation) in their indexes."""
    if customer.phone is not None:
        claim_phone(aggregates, customer, customer.phone)
    if customer.email is not None:
        hold_email(aggregates, customer, customer.email)


def claim_phone(aggregates: IdentityMap, customer: Customer, phone: str) -> None:
    index = aggregates.phone(customer.programme, phone)
    if index is None:
        aggregates.add(PhoneIndex.first_claim(customer.programme, phone, customer.id))
    else:
        index.claim(customer.id)


def hold_email(aggregates: IdentityMap, customer: Customer, email: str) -> None:
    index = aggregates.email(customer.programme, email)
    if index is None:
        aggregates.add(EmailIndex.first_holder(customer.programme, email, customer.id))
    else:
        index.add_holder(customer.id)
