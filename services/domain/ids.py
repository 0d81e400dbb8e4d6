"""Deterministic aggregate ids: uuid5 of one fixed namespace and a name scoped to a programme.

Finding a customer by uniqId, a phone's owner or an item's outcome is a load by id, and the
event store's uniqueness of (originator_id, originator_version) decides every race.
"""

from functools import lru_cache
from uuid import UUID, uuid5

NAMESPACE = UUID("4570e2e3-9462-58aa-bc7d-41820d9455b6")
"""Fixed for ever: changing it would orphan every stored aggregate."""

IDS_CACHED = 65_536
"""A batch asks for the same ids several times (prefetch, then the unit of work): uuid5 is SHA-1."""


@lru_cache(maxsize=IDS_CACHED)
def customer_id(programme: str, uniq_id: str) -> UUID:
    """The id of the customer with this uniqId in this programme."""
    return uuid5(NAMESPACE, f"{programme}/customer/{uniq_id}")


@lru_cache(maxsize=IDS_CACHED)
def phone_id(programme: str, phone: str) -> UUID:
    """The id of the index of one E.164 phone number in this programme."""
    return uuid5(NAMESPACE, f"{programme}/phone/{phone}")


@lru_cache(maxsize=IDS_CACHED)
def email_id(programme: str, email: str) -> UUID:
    """The id of the index of one e-mail address (compared case-insensitively)."""
    return uuid5(NAMESPACE, f"{programme}/email/{email.lower()}")


@lru_cache(maxsize=IDS_CACHED)
def item_id(programme: str, guid: str) -> UUID:
    """The id of the outcome of the item with this guid in this programme."""
    return uuid5(NAMESPACE, f"{programme}/item/{guid}")


def message_id(programme: str, guid: str) -> str:
    """The id of the message queued by the item with this guid."""
    return str(uuid5(NAMESPACE, f"{programme}/{guid}/message"))
