"""Field types of command items: each checks one JSON value and returns it normalised.

A failing check raises a `PydanticCustomError` whose type is an `ErrorCode` and whose message is
the reason, to be read after the field's name ("phone" + " is not a valid phone number").
Numbers arrive as exact `Decimal`s: the JSON parser never makes floats.
"""

import re
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from services.contract.errors import ErrorCode
from services.contract.rules import ValidationRules

MAX_INTEGER_DIGITS = 15
"""Digits before the point of any decimal: 10^15 points is beyond any real accrual."""

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DECIMAL_TEXT = re.compile(
    r"-?(?P<whole>[0-9]+)(\.(?P<fraction>[0-9]+))?([eE](?P<exponent>[+-]?[0-9]+))?")
_SIMPLE_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*)"
    r"@(?P<domain>([A-Za-z0-9]+(-[A-Za-z0-9]+)*\.)+[A-Za-z]{2,63})"
)
AUTHORIZATION_METHODS = ("link", "self")
MAX_PHONE_LENGTH = 100
_DEFAULT_RULES = ValidationRules()


def _fail(code: ErrorCode, reason: str) -> PydanticCustomError:
    return PydanticCustomError(code.value, reason)


def _rules(info: ValidationInfo) -> ValidationRules:
    return info.context if isinstance(info.context, ValidationRules) else _DEFAULT_RULES


def _guid(value: Any) -> str:
    if not isinstance(value, str) or not _GUID.fullmatch(value):
        raise _fail(ErrorCode.INVALID_FORMAT, "must be a UUID such as 9803d32e-8fcd-...")
    return value.lower()


@lru_cache(maxsize=65536)
def e164(value: str, region: str) -> str | None:
    """The number in E.164, or None when it is not a valid phone number.

    A number written without `+` that is not valid in the default region is tried again as an
    international one, so `4915112345678` is a German number whatever the region.
    """
    number = _valid_number(value, region)
    if number is None and not value.lstrip().startswith("+"):
        number = _valid_number("+" + value.lstrip(), region)
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _valid_number(value: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _phone(value: Any, info: ValidationInfo) -> str:
    number = None
    if isinstance(value, str) and len(value) <= MAX_PHONE_LENGTH:
        number = e164(value, _rules(info).phone_region)
    if number is None:
        raise _fail(ErrorCode.INVALID_PHONE, "is not a valid phone number")
    return number


def normalized_email(value: str) -> str | None:
    """The address as `email_validator` normalises it, or None when it is not valid.

    Plain ASCII addresses, nearly all that organisers send, take a path that gives the same
    answer as the library at a fraction of its cost; anything else goes to the library.
    """
    simple = _SIMPLE_EMAIL.fullmatch(value)
    if simple and len(value) <= 254 and len(simple["local"]) <= 64:
        domain = simple["domain"].lower()
        if all(len(label) <= 63 for label in domain.split(".")) and not _special_use(domain):
            return f"{simple['local']}@{domain}"
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def _special_use(domain: str) -> bool:
    return any(domain == name or domain.endswith("." + name) for name in SPECIAL_USE_DOMAIN_NAMES)


def _email(value: Any) -> str:
    address = normalized_email(value) if isinstance(value, str) else None
    if address is None:
        raise _fail(ErrorCode.INVALID_EMAIL, "is not a valid e-mail address")
    return address


class OutOfBoundsNumber:
    """A number with more digits, or a larger exponent, than stage 1 reads (`0E-20000`,
    `1e9999999999999999999`): kept as its text, never built as a Decimal, refused by every
    decimal field with INVALID_DECIMAL (and by every other field: it is not a string)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"OutOfBoundsNumber({self.text[:40]!r})"


def read_number(text: str, max_digits: int, max_exponent: int) -> "Decimal | OutOfBoundsNumber":
    """A number of a command (JSON's, or a decimal field's text) as an exact Decimal, when it
    has at most `max_digits` digits and an exponent of at most `max_exponent` either way."""
    parts = _DECIMAL_TEXT.fullmatch(text)
    if parts is None:
        return OutOfBoundsNumber(text)
    digits = len(parts["whole"]) + len(parts["fraction"] or "")
    exponent = parts["exponent"] or "0"
    if digits > max_digits or len(exponent) > 6 or abs(int(exponent)) > max_exponent:
        return OutOfBoundsNumber(text)
    return Decimal(text)


def _decimal(value: Any, places: int, info: ValidationInfo) -> Decimal:
    rules = _rules(info)
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        value = read_number(value, rules.max_decimal_digits, rules.max_decimal_exponent)
    if isinstance(value, OutOfBoundsNumber):
        raise _fail(ErrorCode.INVALID_DECIMAL, f"must have at most {rules.max_decimal_digits} "
                    f"digits and an exponent of at most {rules.max_decimal_exponent}")
    number = _exact_number(value)
    if number is None or (number.is_signed() and number != 0):
        raise _fail(ErrorCode.INVALID_DECIMAL, 'must be a number >= 0 (an empty one is 0, not "")')
    if _fraction_digits(number) > places:
        raise _fail(ErrorCode.INVALID_DECIMAL, f"must have at most {places} fraction digits")
    if number != 0 and number.adjusted() >= MAX_INTEGER_DIGITS:
        raise _fail(ErrorCode.INVALID_DECIMAL, f"must be below 10^{MAX_INTEGER_DIGITS}")
    return number.copy_abs()


def _fraction_digits(number: Decimal) -> int:
    """Fraction digits of the value: 200.00 has none, 0.10 has one."""
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    significant = len(digits)
    while significant and digits[significant - 1] == 0:
        significant -= 1
    return 0 if significant == 0 else max(0, -(exponent + len(digits) - significant))


def _exact_number(value: Any) -> Decimal | None:
    return value if isinstance(value, Decimal) else None


def _amount(value: Any, info: ValidationInfo) -> Decimal:
    return _decimal(value, 2, info)


def _positive_amount(value: Any, info: ValidationInfo) -> Decimal:
    amount = _decimal(value, 2, info)
    if amount == 0:
        raise _fail(ErrorCode.INVALID_DECIMAL, "must be greater than 0")
    return amount


def _operation_amount(value: Any, info: ValidationInfo) -> Decimal:
    return _decimal(value, 4, info)


def _show_count(value: Any) -> int:
    if not isinstance(value, Decimal) or not 1 <= value <= 1000 or value % 1:
        raise _fail(ErrorCode.INVALID_FORMAT, "must be an integer from 1 to 1000")
    return int(value)


def _date_time(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise _fail(ErrorCode.INVALID_FORMAT, "must be an ISO 8601 date-time")
    if moment.utcoffset() is None:
        raise _fail(ErrorCode.INVALID_FORMAT, "must have a UTC offset, e.g. +03:00 or Z")
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise _fail(ErrorCode.INVALID_FORMAT, "is out of the range of date-times") from None
    return moment


def _event_type(value: Any, info: ValidationInfo) -> str:
    return _member(value, _rules(info).event_types)


def _operation_type(value: Any, info: ValidationInfo) -> str:
    return _member(value, _rules(info).operation_types)


def _method(value: Any) -> str:
    return _member(value, AUTHORIZATION_METHODS)


def _member(value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _fail(ErrorCode.INVALID_ENUM, f"must be one of: {', '.join(allowed)}")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise _fail(ErrorCode.INVALID_FORMAT, "must not contain the NUL character (\\u0000)")
    return value


NoNul = AfterValidator(_no_nul)
"""No text may hold NUL: PostgreSQL text cannot store it, so it would stall the read models."""

_NUMBER = {"type": ["number", "string"], "pattern": r"^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"}

Login = Annotated[str, StringConstraints(min_length=1, max_length=100), NoNul]
Guid = Annotated[str, PlainValidator(_guid),
                 WithJsonSchema({"type": "string", "format": "uuid"})]
Phone = Annotated[str, PlainValidator(_phone), WithJsonSchema(
    {"type": "string", "maxLength": MAX_PHONE_LENGTH, "examples": ["+79161234567"]})]
Email = Annotated[str, PlainValidator(_email),
                  WithJsonSchema({"type": "string", "format": "email"})]
Amount = Annotated[Decimal, PlainValidator(_amount), WithJsonSchema(
    {**_NUMBER, "minimum": 0, "examples": ["200.00"],
     "$comment": "exact decimal, at most 2 fraction digits"})]
PositiveAmount = Annotated[Decimal, PlainValidator(_positive_amount), WithJsonSchema(
    {**_NUMBER, "exclusiveMinimum": 0, "examples": ["30.00"],
     "$comment": "exact decimal > 0, at most 2 fraction digits"})]
OperationAmount = Annotated[Decimal, PlainValidator(_operation_amount), WithJsonSchema(
    {**_NUMBER, "minimum": 0, "$comment": "exact decimal, at most 4 fraction digits"})]
ShowCount = Annotated[int, PlainValidator(_show_count),
                      WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 1000})]
DateTime = Annotated[datetime, PlainValidator(_date_time), WithJsonSchema(
    {"type": "string", "format": "date-time", "examples": ["2015-01-01T00:00:00+03"],
     "$comment": "ISO 8601 with a UTC offset (+03, +03:00 or Z)"})]
EventType = Annotated[str, PlainValidator(_event_type), WithJsonSchema(
    {"type": "string", "examples": ["operation"], "$comment": "LOYALTY_EVENT_TYPES"})]
OperationType = Annotated[str, PlainValidator(_operation_type), WithJsonSchema(
    {"type": "string", "examples": ["purchase"], "$comment": "LOYALTY_OPERATION_TYPES"})]
Method = Annotated[str, PlainValidator(_method),
                   WithJsonSchema({"type": "string", "enum": list(AUTHORIZATION_METHODS)})]
