"""Each command type is declared once (`services.contract.declarations`, its domain command and
its handler): stage 1, the items topic, dispatch and the published schemas all follow from that.

A made-up command type, declared in a fixture, is validated, carried, dispatched and answered
end to end in-process; the built-in ones still carry exactly the bytes (and fingerprints) they
did, so items re-sent across an upgrade are still recognised."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pytest

from services import bootstrap
from services.contract.commands import WorkItem
from services.contract.declarations import Declaration, declaring
from services.contract.mapping import command_of, result_of
from services.contract.schemas import command_schema, item_schemas
from services.contract.validation import ValidationRules, validate_command
from services.domain import Customer, Rejection, UnitOfWork
from services.domain.commands import Item
from services.domain.handlers import HANDLERS, Context, Handled, handles
from services.domain.kinds import text
from tests.support.domain import World, earn

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def validate(command: dict[str, Any]) -> Any:
    return validate_command(json.dumps(command).encode(), command_id="cmd-1",
                            programme="default", rules=ValidationRules())


@pytest.mark.parametrize("case", json.loads((FIXTURES / "work_items_v1.json").read_text()),
                         ids=lambda case: case["command"]["typeOfCommand"])
def test_built_in_commands_travel_as_they_always_did(case: dict[str, Any]) -> None:
    (item,) = validate(case["command"]).items
    assert item.to_json().decode() == case["json"]
    assert item.fingerprint() == case["fingerprint"]
    carried = WorkItem.model_validate_json(case["json"])
    assert carried.fingerprint() == case["fingerprint"]
    assert command_of(carried).fingerprint == case["fingerprint"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteCustomer(Item):
    """A made-up command: a note about a customer, answered by whether the customer exists."""

    note: Annotated[str, text(20), "What to note"]


def note_customer(customer: Customer | None, _: NoteCustomer, __: Context) -> Handled:
    if customer is None:
        return Handled(None, Rejection.CUSTOMER_NOT_FOUND)
    return Handled(customer)


@pytest.fixture
def noting() -> Iterator[Declaration]:
    handles(NoteCustomer)(note_customer)
    declaration = Declaration("noteCustomer", "notes", NoteCustomer, "Note something.")
    try:
        with declaring(declaration):
            yield declaration
    finally:
        del HANDLERS[NoteCustomer]


def test_a_command_type_declared_once_is_validated_carried_dispatched_and_answered(
    noting: Declaration,
) -> None:
    world = World()
    world.one(earn("u1", "5"))
    guid = "9803d32e-8fcd-4984-a736-9f02f726b3c9"
    validated = validate({"typeOfCommand": "noteCustomer", "notes": [
        {"guid": guid, "uniqId": "u1", "note": "likes coffee"},
        {"guid": guid, "uniqId": "u1", "note": "x" * 21},
        {"guid": guid, "uniqId": "u1"}]})

    statuses = validated.result.results
    assert [s.status for s in statuses] == ["Success", "Error", "Error"]
    assert (statuses[1].error.field, statuses[1].error.code) == ("note", "INVALID_FORMAT")
    assert (statuses[2].error.field, statuses[2].error.code) == ("note", "MISSING_FIELD")
    (item,) = validated.items
    carried = WorkItem.model_validate_json(item.to_json())
    command = command_of(carried)
    assert command == NoteCustomer(
        programme="default", guid=guid, uniq_id="u1", command_id="cmd-1",
        type_of_command="noteCustomer", fingerprint=item.fingerprint(), note="likes coffee")

    work = UnitOfWork(world.store.load)
    answer = work.apply(command, "loyalty.items:0:9")
    assert answer is not None
    result = json.loads(result_of(answer).to_json())
    assert (result["status"], result["typeOfCommand"], result["login"]) == (
        "Success", "noteCustomer", "u1")
    stranger = command_of(WorkItem.model_validate_json(validate({
        "typeOfCommand": "noteCustomer",
        "notes": [{"guid": guid.replace("9", "8"), "uniqId": "nobody", "note": "?"}]}
    ).items[0].to_json()))
    assert UnitOfWork(world.store.load).apply(stranger, "loyalty.items:0:10").rejection \
        is Rejection.CUSTOMER_NOT_FOUND  # type: ignore[union-attr]


def test_the_schemas_come_from_the_declarations(noting: Declaration) -> None:
    schemas = item_schemas()
    assert schemas["noteCustomer"]["properties"]["note"] == {
        "type": "string", "maxLength": 20, "description": "What to note", "title": "Note"}
    assert schemas["noteCustomer"]["required"] == ["guid", "uniqId", "note"]
    assert "showCount" in schemas["addCustomerPointMessage"]["properties"]
    assert "showCount" not in schemas["addBonusExtQuick"]["properties"]
    request = command_schema(ValidationRules())
    names = [variant["properties"]["typeOfCommand"]["const"] for variant in request["oneOf"]]
    assert "noteCustomer" in names and "spendBonus" in names
    assert bootstrap is not None
