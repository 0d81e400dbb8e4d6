"""Which use case handles each domain command: registered by the command's class.

A use case module declares what it handles (`@handles(SpendBonus)`); the unit of work looks the
handler up by the item's class, so a new command type needs no switch anywhere.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from services.domain.answers import Handled
from services.domain.commands import Limits, PointsPolicy
from services.domain.identity_map import IdentityMap


@dataclass(frozen=True, slots=True)
class Context:
    """What a use case may need besides the item: the time, the programme's points policy,
    and how much one customer may hold."""

    now: datetime
    policy: PointsPolicy
    limits: Limits


Handler = Callable[[IdentityMap, Any, Context], Handled]
H = TypeVar("H", bound=Handler)

HANDLERS: dict[type, Handler] = {}
"""Every domain command's use case."""


def handles(command: type) -> Callable[[H], H]:
    """Registers the decorated function as the use case of `command`."""

    def register(handler: H) -> H:
        HANDLERS[command] = handler
        return handler

    return register
