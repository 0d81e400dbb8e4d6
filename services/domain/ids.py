"""Deterministic aggregate ids: uuid5 of one fixed namespace and a name scoped to a programme.

Finding a customer by uniqId, a phone's owner or an item's outcome is a load by id, and the
event store's uniqueness of (originator_id, originator_version) decides every race.

A phone's or an address's index is named by a keyed hash (HMAC-SHA256) of it, not by the value
itself: its id tells nothing about the person without the store's index key, which the
processor reads from the store at start (`use_index_key`) and which no other part needs.
"""

import hashlib
import hmac
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


_index_key: bytes | None = None


def use_index_key(key: bytes) -> None:
    """The store's index key, from now on (the ids made under another are forgotten)."""
    global _index_key
    _index_key = key
    phone_id.cache_clear()
    email_id.cache_clear()


def keyed(value: str) -> str:
    """The keyed hash of a phone or an address."""
    if _index_key is None:
        raise LookupError("no index key: the event store gives it (services.bootstrap)")
    return hmac.new(_index_key, value.encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=IDS_CACHED)
def phone_id(programme: str, phone: str) -> UUID:
    """The id of the index of one E.164 phone number in this programme."""
    return uuid5(NAMESPACE, f"{programme}/phone/{keyed(phone)}")


@lru_cache(maxsize=IDS_CACHED)
def email_id(programme: str, email: str) -> UUID:
    """The id of the index of one e-mail address (compared case-insensitively)."""
    return uuid5(NAMESPACE, f"{programme}/email/{keyed(email.lower())}")


def legacy_phone_id(programme: str, phone: str) -> UUID:
    """The id a phone's index had before indexes were keyed (`loyalty privacy migrate`)."""
    return uuid5(NAMESPACE, f"{programme}/phone/{phone}")


def legacy_email_id(programme: str, email: str) -> UUID:
    """The id an address's index had before indexes were keyed (`loyalty privacy migrate`)."""
    return uuid5(NAMESPACE, f"{programme}/email/{email.lower()}")


@lru_cache(maxsize=IDS_CACHED)
def item_id(programme: str, guid: str) -> UUID:
    """The id of the outcome of the item with this guid in this programme."""
    return uuid5(NAMESPACE, f"{programme}/item/{guid}")


def message_id(programme: str, guid: str) -> str:
    """The id of the message queued by the item with this guid."""
    return str(uuid5(NAMESPACE, f"{programme}/{guid}/message"))
