"""The events of the phone and e-mail indexes: internal bookkeeping, never published.

An index has a deterministic id (uuid5 of programme and phone or address), so the event store's
uniqueness of (aggregate id, version) decides every race for a phone number.
"""

from events.base import Event, Recurring


class PhoneClaimed(Recurring):
    """The phone (E.164) belongs to `customer_id` from now on; the first claim creates the
    index, a later one (after a release) recurs on it."""

    programme: str
    phone: str
    customer_id: str


class PhoneReleased(Event):
    """The holder `customer_id` let the phone go."""

    customer_id: str


class EmailHolderAdded(Recurring):
    """`customer_id` holds the (lower-case) address too, last in line; the first one creates
    the index."""

    programme: str
    email: str
    customer_id: str


class EmailHolderRemoved(Event):
    """`customer_id` no longer holds the address."""

    customer_id: str
