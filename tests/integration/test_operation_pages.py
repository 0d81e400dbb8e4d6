"""getBonusOperationExt's pages over a real read model: ordered by event date, the operations
without one (cancelled spends, activations, expiries) come last, by id, and every operation is
on exactly one page, whatever the page size."""

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services import bootstrap
from services.settings import Settings
from tests.conftest import scratch_database
from tests.support.domain import NOW, World, cancel, earn, spend

pytestmark = pytest.mark.integration

KEY = {"X-Api-Key": "key-d"}
EXPECTED = ["accrual a2", "accrual a3", "accrual a1", "spend s1", "spendCancel",
            "activation", "expiry"]
"""The pager's operations by event date: the dated ones by (event date, id), then the others
by id, as processed."""


@pytest.fixture(scope="module")
def settings(postgres_server_dsn: str) -> Iterator[Settings]:
    """A database holding the operations of one customer, `pager`, and of another."""
    for dsn in scratch_database(postgres_server_dsn):
        settings = Settings(postgres_dsn=dsn, api_keys="key-d:default")
        world = World()
        world.store = bootstrap.event_store(settings, create_tables=True)
        try:
            world.apply(earn("other", "7", event_date=NOW - timedelta(days=9)))
            world.apply(earn("pager", "100", guid="a1", event_date=NOW - timedelta(days=3)))
            world.apply(earn("pager", "50", guid="a2", event_date=NOW - timedelta(days=5),
                             available_from=NOW + timedelta(hours=1),
                             expires_at=NOW + timedelta(days=2)))
            world.apply(spend("pager", "30", guid="s1"))
            world.apply(cancel("pager", "s1", "10"))
            world.now += timedelta(hours=2)
            world.settle("pager")  # a2 becomes available
            world.now += timedelta(days=3)
            world.settle("pager")  # a2 expires
            world.apply(earn("pager", "5", guid="a3", event_date=NOW - timedelta(days=4)))
        finally:
            world.store.close()
        writer = bootstrap.read_models_writer(settings, create_tables=True)
        try:
            writer.catch_up()
        finally:
            writer.close()
        yield settings


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(bootstrap.api(settings)) as client:
        yield client


def named(operation: dict[str, Any]) -> str:
    kind = operation["operationKind"]
    return f"{kind} {operation['guid']}" if kind in ("accrual", "spend") else kind


def pages(client: TestClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of the query, following nextCursor to the end."""
    found = [client.post("/v1/getBonusOperationExt", headers=KEY, json=body).json()]
    while found[-1]["nextCursor"] is not None:
        cursor = {"cursor": found[-1]["nextCursor"]}
        found.append(client.post("/v1/getBonusOperationExt", headers=KEY,
                                 json=body | cursor).json())
        assert len(found) < 20, "the cursor does not move on"
    return found


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 100])
def test_pages_by_event_date_list_every_operation_once_the_undated_last(
    client: TestClient, limit: int
) -> None:
    found = pages(client, {"uniqId": "pager", "timeField": "eventDate", "limit": limit})

    listed = [operation for page in found for operation in page["operations"]]
    assert [named(operation) for operation in listed] == EXPECTED
    assert {(page["count"], page["sum"]) for page in found} == {(7, "295.00")}
    assert all(len(page["operations"]) == limit for page in found[:-1])


@pytest.mark.parametrize("limit", [1, 3])
def test_pages_by_processing_time_list_every_operation_once_in_processing_order(
    client: TestClient, limit: int
) -> None:
    found = pages(client, {"uniqId": "pager", "limit": limit})

    listed = [operation for page in found for operation in page["operations"]]
    assert [operation["id"] for operation in listed] == sorted(
        operation["id"] for operation in listed)
    assert sorted(map(named, listed)) == sorted(EXPECTED)


def test_a_cursor_of_the_earlier_format_goes_on_to_the_undated_operations(
    client: TestClient
) -> None:
    everything = pages(client, {"uniqId": "pager", "timeField": "eventDate"})[0]["operations"]
    a3 = everything[1]
    # As the API wrote it before undated operations had cursors: base64url, no padding.
    earlier = base64.urlsafe_b64encode(json.dumps(
        ["eventDate", a3["eventDate"], a3["id"]]).encode()).decode().rstrip("=")

    found = pages(client, {"uniqId": "pager", "timeField": "eventDate", "limit": 2,
                           "cursor": earlier})

    listed = [operation for page in found for operation in page["operations"]]
    assert [named(operation) for operation in listed] == EXPECTED[2:]


@pytest.mark.parametrize("cursor", [["processedAt", None, 5], ["eventDate", "2024-05-01", 5],
                                    ["eventDate", None, "x"]])
def test_a_cursor_that_cannot_be_one_is_refused(client: TestClient, cursor: list[Any]) -> None:
    text = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()
    answer = client.post("/v1/getBonusOperationExt", headers=KEY,
                         json={"timeField": cursor[0], "cursor": text})
    assert answer.status_code == 422
