"""The command names of this service and the validated work items that stage 1 hands to stage 2.

A `WorkItem` is one item of one command, already validated and normalised (phones in E.164,
decimals exact, date-times with their offset), together with the command it came from and the
programme it belongs to. `loyalty.items` carries them in `WorkItems` envelopes (version 2: the
items of one command that belong to one partition, in the command's order) or, as the clock,
the bonus window and earlier intakes produce them, one per record (version 1). A `WorkItem`'s
layout is a contract (stored items are fingerprinted by it): the parts an item carries are the
domain's own payloads (`services.domain.commands`), and a command type declared later carries
its fields in `payload`.
"""

import dataclasses
import hashlib
import typing
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from services.contract.topics import PROGRAMME_PATTERN
from services.domain import commands as domain


class CommandType(StrEnum):
    """The names of the commands this service declares (`services.contract.declarations`
    says what each one carries and becomes)."""

    ADD_CUSTOMER_POINT_MESSAGE = "addCustomerPointMessage"
    ADD_BONUS_EXT_QUICK = "addBonusExtQuick"
    BLOCK_CUSTOMERS = "blockCustomers"
    ACTIVATE_CUSTOMERS = "activateCustomers"
    AUTHORIZE_CUSTOMER = "authorizeCustomer"
    REVOKE_LINKS = "revokeLinks"
    REVERSE_BONUS = "reverseBonus"
    SPEND_BONUS = "spendBonus"
    CANCEL_SPEND = "cancelSpend"
    ERASE_CUSTOMER = "eraseCustomer"
    SETTLE_POINTS = "settlePoints"
    """Internal: the service's clock (never accepted from an organiser)."""


class Contract(BaseModel):
    """Base of every message on the wire: camelCase JSON, immutable in memory. Its validation
    errors never repeat the values they refuse (a phone, an address), since they end in logs
    and dead letters."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore",
        hide_input_in_errors=True,
    )

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


def _described(schema: dict[str, Any], part: type) -> None:
    """The JSON Schema of a part, with each field's meaning as its domain command declares it
    (the text in the field's annotation)."""
    hints = typing.get_type_hints(part, include_extras=True)
    for name, hint in hints.items():
        texts = [extra for extra in getattr(hint, "__metadata__", ()) if isinstance(extra, str)]
        if texts and to_camel(name) in schema.get("properties", {}):
            schema["properties"][to_camel(name)]["description"] = texts[0]


for _part in domain.PAYLOADS:  # the parts of an item travel in camelCase, like the rest
    _part.__pydantic_config__ = ConfigDict(  # type: ignore[union-attr]
        alias_generator=to_camel, populate_by_name=True, hide_input_in_errors=True,
        json_schema_extra=_described)


class WorkItem(Contract):
    """One validated item of one command, as it travels from stage 1 to stage 2."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    command_id: str
    """The commandId of the command the item came in."""
    type_of_command: str
    """One of `services.contract.declarations`, or `settlePoints` (the service's clock)."""
    programme: Annotated[str, StringConstraints(pattern=PROGRAMME_PATTERN)]
    """The programme the item belongs to."""
    guid: str
    """The item's guid (lower case), its idempotency key."""
    uniq_id: str
    """The customer's uniqId."""
    phone: str | None = None
    """E.164, or None when the item does not set a phone."""
    email: str | None = None
    """Normalised by email-validator (domain lower-cased), or None when not set."""
    accrual: domain.Accrual | None = None
    """addCustomerPointMessage, addBonusExtQuick: the points accrued (None: no accrual)."""
    message: domain.Message | None = None
    """addCustomerPointMessage: the information message queued (None: no message)."""
    reason: str | None = None
    """blockCustomers: why the customer is blocked."""
    method: str | None = None
    """authorizeCustomer: `link` or `self`."""
    link_version: int | None = None
    """authorizeCustomer through the bonus window: the version of the link used (stage 2
    refuses it once the customer's links were revoked since); None for organisers' items."""
    link_expires_at: datetime | None = None
    """authorizeCustomer through the bonus window: when the link used expires (stage 2 refuses
    a login processed after it); None for organisers' items."""
    reversal: domain.Reversal | None = None
    """reverseBonus: what it takes back."""
    spend: domain.Spend | None = None
    """spendBonus: what it spends."""
    cancel: domain.Cancel | None = None
    """cancelSpend: what it gives back."""
    at: datetime | None = None
    """settlePoints: the clock's instant."""
    payload: dict[str, Any] | None = None
    """The fields of a command declared after this layout (`services.contract.declarations`):
    what it carries beyond the item's identity, by the domain command's field names."""

    command_timestamp: datetime | None = None
    """The Kafka timestamp of the command's record on the commands topic, which stage 1 read;
    None for items made elsewhere (the clock, the bonus window) and by earlier intakes. It
    times the item's way to its stage-2 result (`loyalty_item_latency_seconds`)."""

    def to_json(self) -> bytes:
        """The item as `loyalty.items` carries it. The fields added since the first layout
        (`payload`, `commandTimestamp`) are left out when empty, so the built-in commands'
        items are the bytes they always were."""
        empty = {name for name in ("payload", "command_timestamp")
                 if getattr(self, name) is None}
        return self.model_dump_json(by_alias=True, exclude=empty).encode()

    def fingerprint(self) -> str:
        """A digest of the item's content: equal for a re-sent item, different for a reused guid.

        Fields added after the first version are left out while they are empty, so an item
        sent again keeps the fingerprint its first sending was stored with; what the command
        around it says (its id, its timestamp) is never part of it."""
        content = self.model_dump_json(by_alias=True, exclude=self._later_fields_left_out())
        return hashlib.sha256(content.encode()).hexdigest()

    def _later_fields_left_out(self) -> dict[str, Any]:
        left_out: dict[str, Any] = {"command_id": True, "command_timestamp": True}
        for name in _LATER_FIELDS[""]:
            if getattr(self, name) is None:
                left_out[name] = True
        for part in _PARTS:
            value = getattr(self, part)
            if value is None:
                continue
            later = {name for name in _later_fields(type(value), part)
                     if getattr(value, name) is None}
            if later:
                left_out[part] = later
        return left_out


ENVELOPE_VERSION = 2
"""The version of the `WorkItems` envelope; a record of `loyalty.items` without the
`ENVELOPE_HEADER` holds a single `WorkItem` (version 1)."""


class WorkItems(Contract):
    """The items of one command that belong to one partition of `loyalty.items`, in the
    command's order: one record, so that producing, fetching and decoding are paid once per
    command and partition, not once per item. The record carries the `ENVELOPE_HEADER`."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    version: typing.Literal[2]
    """The envelope's layout: 2."""
    items: Annotated[list[WorkItem], Field(min_length=1)]
    """The items, each as a version-1 record would carry it."""

    @staticmethod
    def encode(items: typing.Sequence[bytes]) -> bytes:
        """The envelope of items already encoded (`WorkItem.to_json`)."""
        return b'{"version":%d,"items":[%b]}' % (ENVELOPE_VERSION, b",".join(items))


FINGERPRINTED: dict[str, frozenset[str]] = {
    "": frozenset({"type_of_command", "programme", "guid", "uniq_id", "phone", "email",
                   "accrual", "message", "reason", "method"}),
    "accrual": frozenset({"amount", "event_id", "event_date", "event_type", "info",
                          "operation_type", "operation_amount", "merchant_name", "bank_product",
                          "mcc"}),
    "message": frozenset({"text", "show_count", "show_till"}),
    "reversal": frozenset({"original_guid", "amount", "event_id", "event_date", "reason"}),
    "spend": frozenset({"amount", "event_id", "event_date", "merchant_name", "info"}),
    "cancel": frozenset({"original_guid", "amount"}),
}
"""The fields of the item and of each of its parts whose absence (null) the fingerprints of the
first layout of each hold. Any other field, added later, counts only when it has a value, so
an item sent again after a field was added keeps the fingerprint it was stored with: adding a
field to a domain command needs no line here (and none may be added)."""

_PARTS = ("accrual", "message", "reversal", "spend", "cancel")
_LATER_FIELDS: dict[str, tuple[str, ...]] = {"": tuple(
    name for name in WorkItem.model_fields if name not in FINGERPRINTED[""])}
"""The fields of the item that came after the first layout (found once: a fingerprint is
taken for every item the processor reads)."""
_LATER_PART_FIELDS: dict[tuple[Any, str], tuple[str, ...]] = {}
"""The same of each part, by its class and its name in the item."""


def _later_fields(part_class: Any, part: str) -> tuple[str, ...]:
    found = _LATER_PART_FIELDS.get((part_class, part))
    if found is None:
        found = _LATER_PART_FIELDS[part_class, part] = tuple(
            field.name for field in dataclasses.fields(part_class)
            if field.name not in FINGERPRINTED[part])
    return found
