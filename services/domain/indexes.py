"""Index aggregates with deterministic ids: who holds a phone number, who holds an e-mail address.

Saved in the same atomic save as the customers they point to, so the event store's uniqueness
of (originator_id, originator_version) keeps phone numbers unique also across partitions.
"""

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from events.indexes import EmailHolderAdded, EmailHolderRemoved, PhoneClaimed, PhoneReleased
from services.domain import ids
from services.domain.errors import RuleViolationError


class PhoneIndex(Aggregate):
    """Who holds one phone number of one programme: a phone belongs to one customer at most."""

    def __init__(self, programme: str, phone: str) -> None:
        self.programme = programme
        self.phone = phone
        self.owner: str | None = None

    @classmethod
    def first_claim(cls, programme: str, phone: str, customer: UUID) -> "PhoneIndex":
        """Creates the index of a phone nobody has held before, held by `customer`."""
        return cls._create(PhoneClaimed, id=ids.phone_id(programme, phone),
                           programme=programme, phone=phone, customer_id=str(customer))

    def is_taken_by_another(self, customer: UUID) -> bool:
        """Whether a customer other than `customer` holds the phone."""
        return self.owner is not None and self.owner != str(customer)

    def claim(self, customer: UUID) -> None:
        """Gives a free phone to `customer`."""
        if self.is_taken_by_another(customer):
            raise RuleViolationError(f"phone {self.phone} belongs to another customer")
        if self.owner is None:
            self.trigger_event(PhoneClaimed, programme=self.programme, phone=self.phone,
                               customer_id=str(customer), originator_topic=get_topic(type(self)))

    def release(self, customer: UUID) -> None:
        """Frees the phone if `customer` holds it."""
        if self.owner == str(customer):
            self.trigger_event(PhoneReleased, customer_id=str(customer))

    @classmethod
    def move(cls, customer: UUID, programme: str, phone: str, index: "PhoneIndex | None",
             previous: "PhoneIndex | None") -> "PhoneIndex":
        """`customer` takes `phone` (`index`: its index; None when nobody held it before) and
        lets its previous phone go (`previous`: that one's index): the index of `phone`,
        created if need be."""
        if previous is not None:
            previous.release(customer)
        if index is None:
            return cls.first_claim(programme, phone, customer)
        index.claim(customer)
        return index

    def when(self, event: Any) -> None:
        """Applies one of the index's events to its state."""
        match event:
            case PhoneClaimed():
                self.owner = event.customer_id
            case PhoneReleased():
                self.owner = None


class EmailIndex(Aggregate):
    """Which customers hold one e-mail address (not unique), in the order they took it."""

    def __init__(self, programme: str, email: str) -> None:
        self.programme = programme
        self.email = email
        self.holders: list[str] = []

    @classmethod
    def first_holder(cls, programme: str, email: str, customer: UUID) -> "EmailIndex":
        """Creates the index of an address nobody has held before, held by `customer`."""
        return cls._create(EmailHolderAdded, id=ids.email_id(programme, email),
                           programme=programme, email=email.lower(), customer_id=str(customer))

    @property
    def longest_holder(self) -> UUID | None:
        """The customer who has held the address longest, if anyone holds it."""
        return UUID(self.holders[0]) if self.holders else None

    def add_holder(self, customer: UUID) -> None:
        """Records that `customer` now holds the address too (last in line)."""
        if str(customer) not in self.holders:
            self.trigger_event(EmailHolderAdded, programme=self.programme, email=self.email,
                               customer_id=str(customer), originator_topic=get_topic(type(self)))

    def remove_holder(self, customer: UUID) -> None:
        """Records that `customer` no longer holds the address."""
        if str(customer) in self.holders:
            self.trigger_event(EmailHolderRemoved, customer_id=str(customer))

    @classmethod
    def move(cls, customer: UUID, programme: str, email: str, index: "EmailIndex | None",
             previous: "EmailIndex | None") -> "EmailIndex":
        """`customer` takes the address `email` (`index`: its index; None when nobody held it
        before) and lets its previous one go (`previous`: that one's index): the index of
        `email`, created if need be."""
        if previous is not None:
            previous.remove_holder(customer)
        if index is None:
            return cls.first_holder(programme, email, customer)
        index.add_holder(customer)
        return index

    def when(self, event: Any) -> None:
        """Applies one of the index's events to its state."""
        match event:
            case EmailHolderAdded():
                self.holders.append(event.customer_id)
            case EmailHolderRemoved():
                self.holders.remove(event.customer_id)
