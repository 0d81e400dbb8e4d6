"""Work items as stage 1 makes them, and records of the items topic as a consumer reads them."""

import json
import uuid
from typing import Any

from aiokafka.structs import ConsumerRecord

from services.adapters.kafka import Record
from services.contract import examples
from services.contract.commands import WorkItem
from services.contract.rules import ValidationRules
from services.contract.topics import ENVELOPE_HEADER
from services.contract.validation import validate_command

PARTITIONS = list(range(8))


def accruals(customers: int, per_customer: int = 1) -> list[WorkItem]:
    """The items stage 1 makes of one command: `per_customer` accruals for each customer."""
    template = {name: value for name, value in examples.COMMAND["add"][0].items()
                if name not in ("phone", "email")}
    items = [{**template, "guid": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{c}-{n}")),
              "uniqId": f"u-{c}"}
             for n in range(per_customer) for c in range(customers)]
    command = {"typeOfCommand": "addCustomerPointMessage", "add": items}
    validated = validate_command(json.dumps(command).encode(), command_id="c-1",
                                 programme="default", rules=ValidationRules())
    assert len(validated.items) == len(items)
    return validated.items


def consumed(record: Record, offset: int, partition: int = 3) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic=record.topic, partition=partition, offset=offset, timestamp=1,
        timestamp_type=0, key=record.key, value=record.value, checksum=None,
        serialized_key_size=0, serialized_value_size=0, headers=tuple(record.headers))


def spoiled_envelope(items: list[WorkItem], index: int, field: str, value: Any,
                     topic: str = "loyalty.items", key: bytes = b"k") -> Record:
    """An envelope record of the items with one field of one item replaced (as no intake
    would write it): it cannot be read as a whole."""
    document = {"version": 2, "items": [json.loads(item.to_json()) for item in items]}
    document["items"][index][field] = value
    return Record(topic, key, json.dumps(document).encode(), [(ENVELOPE_HEADER, b"2")])
