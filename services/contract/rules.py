"""The configurable limits and enumerations of stage-1 validation.

The contract's own defaults live here; the service's settings start from them, and the
composition root (`services.bootstrap.validation_rules`) makes the rules a service validates
with from its settings: the contract knows nothing of the settings.
"""

from dataclasses import dataclass

DEFAULT_EVENT_TYPES = ("operation", "action", "registration", "manual")
DEFAULT_OPERATION_TYPES = ("purchase", "payment", "transfer", "withdrawal", "refund")


@dataclass(frozen=True)
class ValidationRules:
    """Limits and enumerations that stage 1 checks commands against."""

    max_items: int = 1000
    max_bytes: int = 1024 * 1024
    phone_region: str = "RU"
    event_types: tuple[str, ...] = DEFAULT_EVENT_TYPES
    operation_types: tuple[str, ...] = DEFAULT_OPERATION_TYPES
    programmes: frozenset[str] = frozenset()
    """The programmes commands may belong to; empty: any well-formed name."""
    max_decimal_digits: int = 30
    """Digits a number of a command may have (before and after the point together)."""
    max_decimal_exponent: int = 30
    """How large a number's exponent may be, either way (`1e9999`, `0E-20000`: refused)."""
