"""How a stored event is published on `loyalty.events`: a CloudEvents-style JSON object.

    {"specversion": "1.0", "id", "type", "version", "source", "subject": uniqId,
     "programme", "time", "datacontenttype": "application/json", "data": {...}}

`data` holds the event's own attributes in camelCase, decimals as strings (exact, as sent) and
date-times in ISO 8601 with their offset. `id` is derived from the aggregate and the event's
version, so a republished event carries the same id and consumers deduplicate by it.
"""

import functools
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from events.base import data_of

SPEC_VERSION = "1.0"
ID_NAMESPACE = uuid.UUID("0b6f5b7e-9a0c-5d2e-8f3a-6c1d2e4f5a6b")
"""Fixed for ever: published ids are derived from it."""


@functools.cache
def camel(name: str) -> str:
    """`event_date` -> `eventDate`."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def plain(value: Any) -> Any:
    """A value as JSON carries it: decimals as strings, date-times in ISO 8601, and lists
    and objects with their keys in camelCase."""
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {camel(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def event_id(aggregate_id: uuid.UUID, version: int) -> str:
    """The stable id of the event at `version` of an aggregate."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{aggregate_id}/{version}"))


def cloud_event(event: Any, *, programme: str, uniq_id: str, source: str) -> dict[str, Any]:
    """The published form of a stored customer event."""
    return published_form(type(event), event.originator_id, event.originator_version,
                          event.timestamp.isoformat(), data_of(event),
                          programme=programme, uniq_id=uniq_id, source=source)


def published_form(event_class: type, aggregate_id: uuid.UUID, version: int, time: str,
                   data: dict[str, Any], *, programme: str, uniq_id: str,
                   source: str) -> dict[str, Any]:
    """The published form of the event of `event_class` at `version` of an aggregate, from its
    own attributes (`data`, by attribute name: as the event holds them, or already as JSON
    carries them) and the ISO 8601 `time` it was recorded at."""
    return {
        "specversion": SPEC_VERSION,
        "id": event_id(aggregate_id, version),
        "type": event_class.__name__,
        "version": getattr(event_class, "class_version", 1),
        "source": source,
        "subject": uniq_id,
        "programme": programme,
        "time": time,
        "datacontenttype": "application/json",
        "data": plain(data),
    }
