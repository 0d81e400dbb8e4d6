"""The kinds of value a command's field holds, named where the command declares the field.

A command (`services.domain.commands`) declares each of its fields once, with its kind as a
marker in the annotation and, as a text, what the field means:

    amount: Annotated[Decimal, POSITIVE_POINTS, "Points to spend"]

The domain reads the values; the wire contract (`services.contract.items`) checks each kind of
value as the organiser sends it and names each field in camelCase (or by the kind's `wire`
name), so that a field is added, checked, carried and documented from this one declaration. A
field without a default must be sent. A field with no kind is not the organiser's to send (the
bonus window fills it in, say).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """A kind of value: `name` says how the wire checks it."""

    name: str
    max_length: int | None = None
    wire: str | None = None
    """The organiser's name of the field, when it is not the field's name in camelCase."""


GUID = Kind("guid")
"""A UUID, such as 9803d32e-8fcd-4984-a736-9f02f726b3c0."""
LOGIN = Kind("login", max_length=100)
"""The organiser's identifier of a customer: 1-100 characters."""
PHONE = Kind("phone")
"""A phone number in any spelling the default region understands; carried in E.164."""
EMAIL = Kind("email")
POINTS = Kind("points")
"""A number of points >= 0 with at most 2 fraction digits."""
POSITIVE_POINTS = Kind("positive_points")
MONEY = Kind("money")
"""An amount of money >= 0 with at most 4 fraction digits."""
INSTANT = Kind("instant")
"""A date-time with its UTC offset."""
EVENT_TYPE = Kind("event_type")
OPERATION_TYPE = Kind("operation_type")
SHOW_COUNT = Kind("show_count")
METHOD = Kind("method")


def text(max_length: int, *, wire: str | None = None) -> Kind:
    """A text of at most `max_length` characters."""
    return Kind("text", max_length=max_length, wire=wire)
