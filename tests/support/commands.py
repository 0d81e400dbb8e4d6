"""Commands as an organiser writes them (JSON objects), and their results as they come back."""

import uuid
from typing import Any

from tests.support.pipeline import Organiser


def accrual(uniq_id: str, amount: str = "10.00", **fields: Any) -> dict[str, Any]:
    item = {"guid": str(uuid.uuid4()), "uniqId": uniq_id, "amount": amount,
            "eventId": f"e-{uuid.uuid4().hex[:8]}", "eventDate": "2024-05-01T10:00:00+03:00",
            "eventType": "operation"}
    return {**item, **fields}


def add(*items: dict[str, Any], command: str = "addCustomerPointMessage") -> dict[str, Any]:
    return {"typeOfCommand": command, "add": list(items)}


def outcome(organiser: Organiser, guid: str) -> dict[str, Any]:
    return organiser.processing(guid)[0]


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def phone() -> str:
    return f"+7916{uuid.uuid4().int % 10**7:07d}"
