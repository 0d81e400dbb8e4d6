"""The events of the phone and e-mail indexes: internal bookkeeping, never published.

An index has a deterministic id (uuid5 of programme and a keyed hash of the phone or address),
so the event store's uniqueness of (aggregate id, version) decides every race for a phone
number. The phone or address an event names is personal: sealed with the key of the customer
who claimed it, so erasing that customer erases it here too.
"""

from events.base import Event, Recurring


class PhoneClaimed(Recurring):
    """The phone (E.164) belongs to `customer_id` from now on; the first claim creates the
    index, a later one (after a release) recurs on it."""

    personal = ("phone",)
    personal_subject = "customer_id"

    programme: str
    phone: str | None
    customer_id: str


class PhoneReleased(Event):
    """The holder `customer_id` let the phone go."""

    customer_id: str


class EmailHolderAdded(Recurring):
    """`customer_id` holds the (lower-case) address too, last in line; the first one creates
    the index."""

    personal = ("email",)
    personal_subject = "customer_id"

    programme: str
    email: str | None
    customer_id: str


class EmailHolderRemoved(Event):
    """`customer_id` no longer holds the address."""

    customer_id: str
