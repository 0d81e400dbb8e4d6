"""The configurable limits and enumerations of stage-1 validation."""

from dataclasses import dataclass

from services.settings import DEFAULT_EVENT_TYPES, DEFAULT_OPERATION_TYPES, Settings


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

    @classmethod
    def from_settings(cls, settings: Settings) -> "ValidationRules":
        """The rules configured by the service's settings."""
        return cls(
            max_items=settings.max_items_per_command,
            max_bytes=settings.max_command_bytes,
            phone_region=settings.phone_default_region,
            event_types=tuple(settings.event_types),
            operation_types=tuple(settings.operation_types),
            programmes=frozenset(settings.programmes),
            max_decimal_digits=settings.max_decimal_digits,
            max_decimal_exponent=settings.max_decimal_exponent,
        )
