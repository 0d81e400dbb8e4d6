"""The read API against its own OpenAPI document, with schemathesis and the development key."""

import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from services import bootstrap
from services.settings import DEV_API_KEY, Settings
from tests.conftest import scratch_database
from tests.support.workload import record, workload

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api_settings(postgres_server_dsn: str) -> Iterator[Settings]:
    """Settings of an app over read models of a small workload, on topics of its own."""
    prefix = f"schema{uuid.uuid4().hex[:8]}."
    for dsn in scratch_database(postgres_server_dsn):
        config = Settings(postgres_dsn=dsn, dev_mode=True, commands_topic=f"{prefix}commands",
                          items_topic=f"{prefix}items", results_topic=f"{prefix}results")
        store = bootstrap.event_store(config, create_tables=True)
        record(store, [item.model_copy(update={"programme": "default"})
                       for item in workload()[:200]])
        store.close()
        writer = bootstrap.read_models_writer(config, create_tables=True)
        writer.catch_up()
        writer.close()
        yield config


@pytest.fixture
def api_schema(api_settings: Settings) -> schemathesis.schemas.BaseSchema:
    """The OpenAPI document served by a fresh app (schemathesis ends its lifespan per test)."""
    return schemathesis.openapi.from_asgi("/openapi.json", bootstrap.api(api_settings))


READ_API = ("/v1/customers/{uniqId}", "/v1/customers/{uniqId}/events",
            "/v1/getBonusOperationExt", "/v1/items/{guid}", "/healthz", "/metrics")
PAGED = ("/v1/getBonusOperationExt", "/v1/customers/{uniqId}/events")


@pytest.mark.parametrize("path", READ_API)
def test_the_read_api_keeps_its_openapi_promises(
    api_schema: schemathesis.schemas.BaseSchema, path: str
) -> None:
    """Generated requests to each read operation: no server error, answers as documented.

    (`schemathesis.pytest.from_fixture` + `@schema.parametrize()` would be the idiom, but the
    lazy loader of schemathesis 4.32 fails under pytest 9: `Function` has no `_nodeid`.)
    """
    operations = [result.ok() for result in api_schema.get_all_operations()]
    matching = [operation for operation in operations if operation.path == path]
    assert matching, f"{path} is not in the OpenAPI document"
    for operation in matching:
        check_operation(operation)


def test_the_rest_of_the_document_keeps_its_promises(
    api_schema: schemathesis.schemas.BaseSchema,
) -> None:
    """Every other operation of the application (gateway, bonus window), the same way."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:
        if operation.path not in READ_API:
            check_operation(operation)


def check_operation(operation: APIOperation) -> None:
    """Generated requests to one operation, each answered as the document promises."""
    # A schema-valid but unknown cursor is rightly refused (422): the cursor is opaque, and no
    # schema tells a cursor this API issued from any other string.
    excluded = [positive_data_acceptance] if operation.path in PAGED else []

    @given(case=operation.as_strategy())
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    def keeps_promises(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"X-Api-Key": DEV_API_KEY}, excluded_checks=excluded)

    keeps_promises()
