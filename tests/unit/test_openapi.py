"""The OpenAPI document explains itself: every property of every schema has a description and
an example, schema names are plain and distinct, the gateway's response header is documented,
and a name means one thing (docs/decisions.md, "HTTP")."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from services import bootstrap
from services.settings import Settings

DOCUMENT: dict[str, Any] = bootstrap.api(Settings()).openapi()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]


def properties() -> list[tuple[str, str]]:
    return [(name, prop) for name, schema in SCHEMAS.items()
            for prop in schema.get("properties", {})]


@pytest.mark.parametrize(("schema", "prop"), properties(), ids="{0[0]}.{0[1]}".format)
def test_every_property_has_a_description_and_an_example(schema: str, prop: str) -> None:
    described = SCHEMAS[schema]["properties"][prop]
    assert described.get("description"), f"{schema}.{prop} has no description"
    assert described.get("examples"), f"{schema}.{prop} has no example"


def test_every_schema_has_a_plain_name_and_says_what_it_is() -> None:
    assert [name for name in SCHEMAS if "__" in name or not name.isidentifier()] == []
    assert [name for name, schema in SCHEMAS.items() if not schema.get("description")] == []


def test_the_stored_outcome_error_and_the_result_error_have_names_of_their_own() -> None:
    item = SCHEMAS["Item"]["properties"]["error"]["anyOf"][0]["$ref"]
    status = SCHEMAS["ItemStatus"]["properties"]["error"]["anyOf"][0]["$ref"]
    assert (item, status) == ("#/components/schemas/OutcomeError",
                              "#/components/schemas/ItemError")


def test_the_gateway_documents_the_command_id_header() -> None:
    responses = DOCUMENT["paths"]["/v1/commands"]["post"]["responses"]
    for status in ("200", "400", "503"):
        header = responses[status]["headers"]["X-Command-Id"]
        assert header["description"] and header["schema"]["type"] == "string"


def test_operation_type_means_the_customers_operation_and_the_filter_is_operation_kind() -> None:
    query = SCHEMAS["OperationsQuery"]["properties"]
    operation = SCHEMAS["Operation"]["properties"]
    assert query["operationType"].get("deprecated") is True
    assert not query["operationKind"].get("deprecated")
    assert "customer's operation" in operation["operationType"]["description"]


def test_the_deprecated_filter_is_still_read() -> None:
    from services.api.schemas import OperationsQuery

    assert OperationsQuery.model_validate({"operationType": "spend"}).kind == "spend"
    assert OperationsQuery.model_validate(
        {"operationType": "spend", "operationKind": "accrual"}).kind == "accrual"


def test_the_contracts_are_listed_and_public() -> None:
    paths = [path for path in DOCUMENT["paths"] if path.startswith("/contracts/")]
    assert "/contracts/asyncapi.json" in paths and "/contracts/results.schema.json" in paths
    for path in paths:
        assert "security" not in DOCUMENT["paths"][path]["get"]
        assert TestClient(bootstrap.api(Settings())).get(path).status_code == 200
