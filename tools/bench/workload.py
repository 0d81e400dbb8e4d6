"""Realistic commands for the benchmark: batches of AddBonus items over many customers.

Pure code, no I/O: a seeded `Workload` draws customers from a pool (so that some items create
customers and others accrue to existing ones), gives most of them a phone and an e-mail in the
formats organisers really send, and spoils a share of the items so that stage 1 rejects them.
"""

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.contract.commands import CommandType

Item = dict[str, Any]

DOMAINS = ("mail.ru", "yandex.ru", "gmail.com", "bk.ru", "rambler.ru")
MERCHANTS = ("TZUM", "Perekrestok", "Lukoil", "Azbuka Vkusa", "M.Video")
MCCS = ("Petrol station", "Grocery", "Restaurants", "Electronics", "Pharmacy")
EVENT_TYPES = ("operation", "action", "registration", "manual")
OPERATION_TYPES = ("purchase", "payment", "transfer", "withdrawal", "refund")
EVENT_DATES = ("2024-05-01T10:00:00+03", "2024-05-01T07:00:00.511Z", "2024-05-01T10:00:00+03:00")
QUICK_SHARE = 0.2
"""Share of commands that are addBonusExtQuick (no messages); the rest addCustomerPointMessage."""


def phone_of(customer: int, style: int) -> str:
    """The customer's mobile number, written in one of the ways organisers send it."""
    digits = f"916{customer:07d}"
    return (f"+7{digits}", f"7{digits}", f"8{digits}",
            f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}")[style % 4]


def email_of(customer: int) -> str:
    """The customer's address; every third one in mixed case (compared case-insensitively)."""
    address = f"customer.{customer}@{DOMAINS[customer % len(DOMAINS)]}"
    return address.upper() if customer % 3 == 0 else address


def _bad_phone(item: Item) -> None:
    item["phone"] = "12345"


def _bad_email(item: Item) -> None:
    item["email"] = "customer.at.example"


def _negative_amount(item: Item) -> None:
    item["amount"] = -5


def _missing_event_id(item: Item) -> None:
    item["amount"] = item.get("amount") or 10
    item.pop("eventId", None)
    item.setdefault("eventDate", EVENT_DATES[0])
    item.setdefault("eventType", "operation")


def _bad_event_type(item: Item) -> None:
    _missing_event_id(item)
    item["eventId"] = "e-1"
    item["eventType"] = "gift"


def _date_without_offset(item: Item) -> None:
    _missing_event_id(item)
    item["eventId"] = "e-1"
    item["eventDate"] = "2024-05-01T10:00:00"


DEFECTS: tuple[Callable[[Item], None], ...] = (
    _bad_phone, _bad_email, _negative_amount, _missing_event_id, _bad_event_type,
    _date_without_offset,
)
"""Ways an item fails stage 1 (each keeps the item's guid, so its result can be traced)."""


@dataclass(frozen=True)
class BenchCommand:
    """One command as produced to the commands topic, and what the benchmark expects of it."""

    command_id: str
    value: bytes
    """The JSON command."""
    item_payloads: tuple[bytes, ...]
    """Each item as JSON (the payloads of the raw Kafka ceiling)."""
    guids: tuple[str, ...]
    valid_guids: frozenset[str]
    """The items the generator made valid: stage 1 should accept exactly these."""


class Workload:
    """Draws commands from a seeded random stream over a pool of `customers` customers."""

    def __init__(self, customers: int, invalid_share: float, seed: int = 20240501) -> None:
        if not 0 <= invalid_share <= 1:
            raise ValueError("invalid_share must be between 0 and 1")
        self.customers = max(1, customers)
        self.invalid_share = invalid_share
        self.random = random.Random(seed)

    def guid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def command(self, size: int) -> BenchCommand:
        """A command of `size` items: addCustomerPointMessage, or addBonusExtQuick."""
        quick = self.random.random() < QUICK_SHARE
        kind = CommandType.ADD_BONUS_EXT_QUICK if quick else CommandType.ADD_CUSTOMER_POINT_MESSAGE
        items = [self.item(with_message=not quick) for _ in range(size)]
        valid = [item for item, spoiled in items if not spoiled]
        payloads = tuple(json.dumps(item, separators=(",", ":")).encode() for item, _ in items)
        value = (b'{"typeOfCommand":"' + kind.value.encode() + b'","add":['
                 + b",".join(payloads) + b"]}")
        return BenchCommand(
            command_id=self.guid(), value=value, item_payloads=payloads,
            guids=tuple(item["guid"] for item, _ in items),
            valid_guids=frozenset(item["guid"] for item in valid),
        )

    def item(self, with_message: bool) -> tuple[Item, bool]:
        """One AddBonus item and whether it was spoiled on purpose."""
        customer = self.random.randrange(self.customers)
        item: Item = {"guid": self.guid(), "uniqId": f"c{customer:07d}"}
        if customer % 5:
            item["phone"] = phone_of(customer, self.random.randrange(4))
        if customer % 10 < 7:
            item["email"] = email_of(customer)
        if self.random.random() < 0.8:
            item.update(self.accrual())
        if with_message and self.random.random() < 0.3:
            item.update(message="Double points this weekend!",
                        showCount=self.random.randint(1, 5), showTill="2030-01-01T00:00:00Z")
        spoiled = self.random.random() < self.invalid_share
        if spoiled:
            self.random.choice(DEFECTS)(item)
        return item, spoiled

    def accrual(self) -> Item:
        """The amount and event fields of an accrual (a float of cents prints as exact text)."""
        pick = self.random.choice
        return {
            "amount": self.random.randint(1, 50000) / 100,
            "eventId": f"e-{self.random.getrandbits(40):x}",
            "eventDate": pick(EVENT_DATES),
            "eventType": pick(EVENT_TYPES),
            "operationType": pick(OPERATION_TYPES),
            "operationAmount": self.random.randint(100, 10_000_000) / 100,
            "merchantName": pick(MERCHANTS),
            "bankProduct": "Gold card",
            "mcc": pick(MCCS),
        }

    def commands(self, items: int, per_command: int) -> list[BenchCommand]:
        """Commands holding `items` items in all, `per_command` each (the last may be short)."""
        sizes = [per_command] * (items // per_command)
        if items % per_command:
            sizes.append(items % per_command)
        return [self.command(size) for size in sizes]
