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
        )
