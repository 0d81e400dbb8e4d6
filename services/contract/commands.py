"""Command names and the validated work items that stage 1 hands to stage 2.

A `WorkItem` is what travels on `loyalty.items`: one item of one command, already validated
and normalised (phones in E.164, decimals exact, date-times with their offset), together with
the command it came from and the programme it belongs to.
"""

import hashlib
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

from services.contract.topics import PROGRAMME_PATTERN


class CommandType(StrEnum):
    ADD_CUSTOMER_POINT_MESSAGE = "addCustomerPointMessage"
    ADD_BONUS_EXT_QUICK = "addBonusExtQuick"
    BLOCK_CUSTOMERS = "blockCustomers"
    ACTIVATE_CUSTOMERS = "activateCustomers"
    AUTHORIZE_CUSTOMER = "authorizeCustomer"
    REVOKE_LINKS = "revokeLinks"
    REVERSE_BONUS = "reverseBonus"
    SPEND_BONUS = "spendBonus"
    CANCEL_SPEND = "cancelSpend"
    SETTLE_POINTS = "settlePoints"
    """Internal: the service's clock (never accepted from an organiser)."""


ADD_COMMANDS = frozenset({CommandType.ADD_CUSTOMER_POINT_MESSAGE, CommandType.ADD_BONUS_EXT_QUICK})
ITEMS_UNDER: dict[CommandType, str] = {
    CommandType.ADD_CUSTOMER_POINT_MESSAGE: "add",
    CommandType.ADD_BONUS_EXT_QUICK: "add",
    CommandType.BLOCK_CUSTOMERS: "customers",
    CommandType.ACTIVATE_CUSTOMERS: "customers",
    CommandType.AUTHORIZE_CUSTOMER: "customers",
    CommandType.REVOKE_LINKS: "customers",
    CommandType.REVERSE_BONUS: "reverse",
    CommandType.SPEND_BONUS: "spend",
    CommandType.CANCEL_SPEND: "cancel",
}
"""The organisers' commands and the field that lists their items."""


class Contract(BaseModel):
    """Base of every message on the wire: camelCase JSON, immutable in memory."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


class Accrual(Contract):
    """The points of one AddBonus item and the event that earned them (amount > 0)."""

    amount: Decimal
    event_id: str
    event_date: datetime
    event_type: str
    info: str | None = None
    operation_type: str | None = None
    operation_amount: Decimal | None = None
    merchant_name: str | None = None
    bank_product: str | None = None
    mcc: str | None = None
    available_from: datetime | None = None
    expires_at: datetime | None = None


class Reversal(Contract):
    """reverseBonus: which accrual is taken back, how much (None: all of what is left)."""

    original_guid: str
    amount: Decimal | None = None
    event_id: str
    event_date: datetime
    reason: str | None = None


class Spend(Contract):
    """spendBonus: the points spent and the event they were spent in."""

    amount: Decimal
    event_id: str
    event_date: datetime
    merchant_name: str | None = None
    info: str | None = None


class Cancel(Contract):
    """cancelSpend: which spend is given back, how much (None: all of what is left)."""

    original_guid: str
    amount: Decimal | None = None


class Message(Contract):
    """An information message for the customer's bonus window."""

    text: str
    show_count: int = 1
    show_till: datetime | None = None


class WorkItem(Contract):
    """One validated item of one command, as it travels from stage 1 to stage 2."""

    command_id: str
    type_of_command: CommandType
    programme: Annotated[str, StringConstraints(pattern=PROGRAMME_PATTERN)]
    guid: str
    uniq_id: str
    phone: str | None = None
    """E.164, or None when the item does not set a phone."""
    email: str | None = None
    """Normalised by email-validator (domain lower-cased), or None when not set."""
    accrual: Accrual | None = None
    message: Message | None = None
    reason: str | None = None
    """blockCustomers: why the customer is blocked."""
    method: str | None = None
    """authorizeCustomer: `link` or `self`."""
    reversal: Reversal | None = None
    spend: Spend | None = None
    cancel: Cancel | None = None
    at: datetime | None = None
    """settlePoints: the clock's instant."""
    command_timestamp: datetime | None = None
    """The Kafka timestamp of the command's record on the commands topic, which stage 1 read;
    None for items made elsewhere (the clock, the bonus window) and by earlier intakes. It
    times the item's way to its stage-2 result (`loyalty_item_latency_seconds`)."""

    def fingerprint(self) -> str:
        """A digest of the item's content: equal for a re-sent item, different for a reused guid.

        Fields added after the first version are left out while they are empty, so an item
        sent again keeps the fingerprint its first sending was stored with; what the command
        around it says (its id, its timestamp) is never part of it."""
        content = self.model_dump_json(by_alias=True, exclude=self._later_fields_left_out())
        return hashlib.sha256(content.encode()).hexdigest()

    def _later_fields_left_out(self) -> dict[str, Any]:
        left_out: dict[str, Any] = {"command_id": True, "command_timestamp": True}
        left_out |= {name: True for name in LATER_FIELDS if getattr(self, name) is None}
        if self.accrual is not None:
            later = {name for name in LATER_ACCRUAL_FIELDS if getattr(self.accrual, name) is None}
            if later:
                left_out["accrual"] = later
        return left_out


LATER_FIELDS = ("reversal", "spend", "cancel", "at")
"""WorkItem fields added after the first version (their absence is not in fingerprints)."""
LATER_ACCRUAL_FIELDS = ("available_from", "expires_at")
