"""One example of each message on the topics, made by the code that makes the real ones: the
example command goes through stage 1 (`validate_command`), which gives the stage-1 result and
the work item; the stage-2 result, the events and the dead letter follow from that item.
The AsyncAPI document shows them (`services.contract.asyncapi`); a test validates each against
its schema.
"""

import dataclasses
import json
from decimal import Decimal
from functools import cache
from typing import Any

from events import customer
from events.published import published_form
from events.schema import data_hints
from services.contract.commands import WorkItem, WorkItems
from services.contract.headers import CommandHeaders, DeadLetterHeaders, ResultHeaders
from services.contract.mapping import result_of
from services.contract.results import ValidationResult
from services.contract.rules import ValidationRules
from services.contract.validation import validate_command
from services.domain import Answer, ids

PROGRAMME = "default"
COMMAND_ID = "c-1"
COMMAND: dict[str, Any] = {
    "typeOfCommand": "addCustomerPointMessage",
    "add": [{
        "guid": "9803d32e-8fcd-4984-a736-9f02f726b3c0", "uniqId": "12345678",
        "phone": "+79161234567", "email": "ann@example.com", "amount": "200.00",
        "info": "Birthday bonus", "eventId": "123456", "eventDate": "2015-01-01T00:00:00+03:00",
        "eventType": "operation", "operationType": "purchase", "operationAmount": "100.00",
        "merchantName": "TZUM", "message": "Message for customer", "showCount": 3,
    }],
}
TIME = "2026-03-02T09:15:00.120000+00:00"
"""When the example's events were recorded and its dead letter given up."""


@cache
def _stage1() -> tuple[ValidationResult, WorkItem]:
    validated = validate_command(json.dumps(COMMAND).encode(), command_id=COMMAND_ID,
                                 programme=PROGRAMME, rules=ValidationRules())
    (item,) = validated.items
    return validated.result, item


def command() -> dict[str, Any]:
    """A command as an organiser sends it."""
    return COMMAND


def command_headers() -> dict[str, str]:
    return _headers(CommandHeaders(programme=PROGRAMME, command_id=COMMAND_ID))


def validation_result() -> dict[str, Any]:
    """The example command's stage-1 result."""
    result, _ = _stage1()
    return _plain(result.to_json())


def result_headers() -> dict[str, str]:
    return _headers(ResultHeaders(programme=PROGRAMME))


def work_item() -> dict[str, Any]:
    """The example command's item, as a record of its own on the items topic (version 1)."""
    _, item = _stage1()
    return _plain(item.to_json())


def work_items() -> dict[str, Any]:
    """The example command's items on the items topic, in an envelope (version 2)."""
    _, item = _stage1()
    return _plain(WorkItems.encode([item.to_json()]))


def processing_result() -> dict[str, Any]:
    """The example item's stage-2 result."""
    _, item = _stage1()
    answer = Answer(command_id=item.command_id, type_of_command=item.type_of_command,
                    guid=item.guid, login=item.uniq_id)
    return _plain(result_of(answer).to_json())


def events() -> list[dict[str, Any]]:
    """The first two events of the customer the example item creates, as published."""
    _, item = _stage1()
    assert item.accrual is not None
    created = {"programme": item.programme, "uniq_id": item.uniq_id, "status": "New",
               "guid": item.guid, "phone": item.phone, "email": item.email}
    amount: Decimal = item.accrual.amount
    accrued = dataclasses.asdict(item.accrual) | {
        "active": amount, "pending": Decimal(0), "debt": Decimal(0), "balance": amount,
        "guid": item.guid, "command_id": item.command_id, "available": True}
    return [_event(customer.CustomerCreated, 1, item, created),
            _event(customer.PointsAccrued, 2, item, accrued)]


def dead_letter_headers() -> dict[str, str]:
    """The headers of a dead letter of an item the processor gave up on."""
    return _headers(DeadLetterHeaders(
        topic="loyalty.items", partition="3", offset="1017", timestamp="1772442900120",
        service="processor", error="ValidationError: accrual", attempts="3", at=TIME))


def _event(event_class: type, version: int, item: WorkItem,
           values: dict[str, Any]) -> dict[str, Any]:
    data = {name: values[name] for name in data_hints(event_class)}
    return published_form(event_class, ids.customer_id(item.programme, item.uniq_id), version,
                          TIME, data, programme=item.programme, uniq_id=item.uniq_id,
                          source="loyalty")


def _headers(headers: CommandHeaders | ResultHeaders | DeadLetterHeaders) -> dict[str, str]:
    return headers.model_dump(by_alias=True, exclude_none=True)


def _plain(raw: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(raw)
    return value
