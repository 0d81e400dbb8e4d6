"""The machine-readable contracts of the topics (docs/contracts/) are made from the models that
validate and make the messages, stay in step with them, and are what the API serves.

The AsyncAPI document is validated against the official AsyncAPI 3.0.0 JSON Schema,
`tests/fixtures/asyncapi/asyncapi-3.0.0.schema.json`: the file `schemas/3.0.0-without-$id.json`
of the npm package `@asyncapi/specs` 6.11.1 (Apache-2.0), unchanged (no PyPI package ships it).
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from events import PUBLISHED
from events.schema import rendered as rendered_event_schema
from services import bootstrap
from services.adapters.dead_letters import DeadLetter, Origin
from services.contract import examples
from services.contract.publish import FOLDER, MAKERS, contract, rendered
from services.contract.validation import ValidationRules, validate_command
from services.settings import Settings
from tests.support import contracts
from tests.support.contracts import (
    dead_letter_problems,
    problems,
    result_header_problems,
    result_problems,
    work_item_problems,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ASYNCAPI_SCHEMA = FIXTURES / "asyncapi" / "asyncapi-3.0.0.schema.json"
ASYNCAPI_SCHEMA_SHA256 = "abe96881dbfaad495ccbb6bd8d3fb43ca18a13b9d7564849ccb66f39d5e5b20f"
META = ("$schema", "$id", "title")


def committed(name: str) -> Any:
    return json.loads((FOLDER / name).read_text())


@pytest.mark.parametrize("name", MAKERS)
def test_each_committed_contract_is_the_one_the_models_make(name: str) -> None:
    assert (FOLDER / name).read_text() == rendered(contract(name)), (
        "run `python -m services.contract.publish` and commit docs/contracts/")


def test_docs_contracts_holds_the_published_documents_only() -> None:
    assert sorted(path.name for path in FOLDER.iterdir()) == sorted(MAKERS)


def test_the_asyncapi_document_is_valid_asyncapi_3() -> None:
    assert hashlib.sha256(ASYNCAPI_SCHEMA.read_bytes()).hexdigest() == ASYNCAPI_SCHEMA_SHA256
    official = json.loads(ASYNCAPI_SCHEMA.read_text())
    errors = [f"{list(error.absolute_path)}: {error.message}"
              for error in jsonschema.Draft7Validator(official).iter_errors(
                  committed("asyncapi.json"))]
    assert errors == []


def test_the_official_schema_refuses_a_wrong_asyncapi_document() -> None:
    official = jsonschema.Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))
    document = committed("asyncapi.json")
    document["operations"]["receiveItems"]["action"] = "subscribe"
    document["components"]["messages"]["workItem"]["bindings"]["kafka"]["partitionKey"] = {}
    assert len(list(official.iter_errors(document))) >= 2


def resolve(reference: str, document: Any) -> Any:
    """The target of a `$ref` of the AsyncAPI document (a file beside it, or itself)."""
    file, _, pointer = reference.partition("#")
    target = committed(file) if file else document
    for part in filter(None, pointer.split("/")):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [ref for item in value.values() for ref in references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in references(item)]
    return []


def test_every_reference_of_the_asyncapi_document_resolves_beside_it() -> None:
    document = committed("asyncapi.json")
    refs = references(document)
    assert {ref.partition("#")[0] for ref in refs} - {""} <= set(MAKERS)
    for ref in refs:
        assert resolve(ref, document) is not None, ref


def schema_of(part: dict[str, Any], document: Any) -> tuple[Path, str | None] | None:
    """The file (and `$defs` entry) a message's payload or headers refer to."""
    if "$ref" not in part:
        return None
    file, _, pointer = part["$ref"].partition("#")
    return FOLDER / file, pointer.rpartition("/")[2] or None


@pytest.mark.parametrize("message", committed("asyncapi.json")["components"]["messages"])
def test_every_example_of_the_asyncapi_document_matches_its_schemas(message: str) -> None:
    document = committed("asyncapi.json")
    described = document["components"]["messages"][message]
    assert described["examples"]
    for example in described["examples"]:
        for part in ("payload", "headers"):
            schema = schema_of(described.get(part, {}), document)
            if schema is not None:
                path, definition = schema
                assert problems(path, example[part], definition) == [], (message, part)
        assert ("headers" in example) == ("headers" in described)


def test_the_gateway_takes_the_published_commands_schema() -> None:
    for rules, settings in ((ValidationRules(), Settings()),
                            (ValidationRules(max_items=5), Settings(max_items_per_command=5))):
        served = bootstrap.api(settings).openapi()["paths"]["/v1/commands"]["post"]
        published = contract("commands.schema.json", rules)
        assert {key: value for key, value in published.items() if key not in META} == (
            served["requestBody"]["content"]["application/json"]["schema"])
    assert contract("commands.schema.json") == committed("commands.schema.json")


def test_the_events_document_holds_the_schema_of_each_published_event() -> None:
    document = committed("events.schema.json")
    assert list(document["$defs"]) == [cls.__name__ for cls in PUBLISHED]
    for cls in PUBLISHED:
        assert document["$defs"][cls.__name__] == json.loads(rendered_event_schema(cls))


def test_the_api_serves_every_contract_without_a_key() -> None:
    client = TestClient(bootstrap.api(Settings()))
    paths = bootstrap.api(Settings()).openapi()["paths"]
    for name in MAKERS:
        response = client.get(f"/contracts/{name}")
        assert response.status_code == 200, name
        assert response.text == (FOLDER / name).read_text()
        assert f"/contracts/{name}" in paths
    assert client.get("/contracts/nothing.schema.json").status_code == 404


def test_the_api_serves_the_commands_schema_of_its_own_limits() -> None:
    client = TestClient(bootstrap.api(Settings(max_items_per_command=5)))
    served = client.get("/contracts/commands.schema.json").json()
    assert {variant["properties"][variant["required"][1]]["maxItems"]
            for variant in served["oneOf"]} == {5}


def seed_commands() -> list[dict[str, Any]]:
    cases = json.loads((FIXTURES / "work_items_v1.json").read_text())
    return [examples.command(), *(case["command"] for case in cases),
            {"typeOfCommand": "spendBonus"}, {"typeOfCommand": "nothing", "add": []},
            {"typeOfCommand": "addCustomerPointMessage", "add": [{"guid": "x"}, 5]}]


@pytest.mark.parametrize("command", seed_commands(), ids=lambda c: str(c.get("typeOfCommand")))
def test_what_stage_1_makes_of_a_command_matches_the_contracts(command: dict[str, Any]) -> None:
    validated = validate_command(json.dumps(command).encode(), command_id="c-9",
                                 programme="default", rules=ValidationRules())
    result = json.loads(validated.result.to_json())
    assert result_problems(result) == []
    assert result_header_problems(result, [("programme", b"default")]) == []
    for item in validated.items:
        assert work_item_problems(json.loads(item.to_json())) == []


def letter(**origin: Any) -> DeadLetter:
    return DeadLetter(Origin(**{"topic": "loyalty.items", "partition": 3, "offset": 17,
                                "key": b"default\x1fu", "value": b"{}",
                                "headers": [("x", b"\xff\xfe")], "timestamp": 1, **origin}),
                      "processor", "TypeError: no", attempts=3)


@pytest.mark.parametrize("case", ["whole", "truncated", "no timestamp", "from the store"])
def test_the_headers_of_a_dead_letter_match_the_contract(case: str) -> None:
    made = {"whole": letter(), "no timestamp": letter(timestamp=None),
            "from the store": letter(topic="event-store:loyalty", key=None, value=None),
            "truncated": letter(value=b"v" * 100_000)}[case]
    record = made.record("loyalty.deadletter", limit=10_000)
    assert dead_letter_problems(record.headers) == []
    assert (case == "truncated") == ("loyalty.dlq.truncated" in dict(record.headers))


def test_a_dead_letter_header_the_contract_does_not_declare_is_refused() -> None:
    headers = [*letter().headers(), ("loyalty.dlq.reason", b"why")]
    assert dead_letter_problems(headers) != []
    assert dead_letter_problems([("loyalty.dlq.topic", b"t")]) != []


def test_the_checks_of_real_messages_name_what_is_wrong() -> None:
    assert result_problems({"stage": "processing", "guid": 1}) != []
    assert contracts.event_problems({"type": "Nothing"}) == ["no published event type 'Nothing'"]
    assert work_item_problems({"commandId": "c"}) != []
