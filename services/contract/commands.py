"""Command names and the validated work items that stage 1 hands to stage 2.

A `WorkItem` is what travels on `loyalty.items`: one item of one command, already validated
and normalised (phones in E.164, decimals exact, date-times with their offset), together with
the command it came from and the programme it belongs to.
"""

import hashlib
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

from services.contract.topics import PROGRAMME_PATTERN


class CommandType(StrEnum):
    ADD_CUSTOMER_POINT_MESSAGE = "addCustomerPointMessage"
    ADD_BONUS_EXT_QUICK = "addBonusExtQuick"
    BLOCK_CUSTOMERS = "blockCustomers"
    ACTIVATE_CUSTOMERS = "activateCustomers"
    AUTHORIZE_CUSTOMER = "authorizeCustomer"


ADD_COMMANDS = frozenset({CommandType.ADD_CUSTOMER_POINT_MESSAGE, CommandType.ADD_BONUS_EXT_QUICK})


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

    def fingerprint(self) -> str:
        """A digest of the item's content: equal for a re-sent item, different for a reused guid."""
        content = self.model_dump_json(by_alias=True, exclude={"command_id"})
        return hashlib.sha256(content.encode()).hexdigest()
