"""An aggregate's whole state as a comparable value: what snapshots must restore exactly."""

import dataclasses
from datetime import datetime
from typing import Any


def typed(value: Any) -> Any:
    """The value with the type and order of everything in it, so that two states compare equal
    only when they are the same (a status, not its string; a tuple, not a list; a date-time
    with its offset; a dict in its order)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value).__name__, [(field.name, typed(getattr(value, field.name)))
                                      for field in dataclasses.fields(value)]
    if isinstance(value, dict):
        return "dict", [(key, typed(item)) for key, item in value.items()]
    if isinstance(value, list | tuple):
        return type(value).__name__, [typed(item) for item in value]
    if isinstance(value, datetime):
        return "datetime", value.isoformat()
    return type(value).__name__, value


def state_of(aggregate: Any) -> dict[str, Any]:
    """Everything an aggregate holds, the library's attributes (id, version, times) included."""
    return {name: typed(value) for name, value in vars(aggregate).items()}
