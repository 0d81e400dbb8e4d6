"""The HTTP gateway without servers: its answers, its size cap, and what it hands to Kafka.

A fake stands in for the application's pipeline client (given to `bootstrap.api`, which would
otherwise make a `PipelineClient`); the real producer is proved in tests/e2e/test_gateway.py.
"""

import asyncio
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services import bootstrap
from services.api import pipeline as pipeline_module
from services.api.pipeline import PipelineClient, PipelineUnavailableError
from services.settings import Settings

LIMIT = 2000
KEY = {"X-Api-Key": "dev-key"}
ITEM = {"guid": "9803d32e-8fcd-4984-a736-9f02f726b3c0", "uniqId": "12345678"}


class FakePipeline:
    """Records what the gateway produced; fails when told to."""

    def __init__(self) -> None:
        self.commands: list[tuple[bytes, str, str]] = []
        self.down = False

    async def connect(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def send_command(self, raw: bytes, *, programme: str, command_id: str) -> None:
        if self.down:
            raise PipelineUnavailableError("kafka did not acknowledge the record")
        self.commands.append((raw, programme, command_id))


@pytest.fixture
def pipeline() -> FakePipeline:
    return FakePipeline()


@pytest.fixture
def client(pipeline: FakePipeline) -> Iterator[TestClient]:
    app = bootstrap.api(Settings(max_command_bytes=LIMIT, api_keys="k1:bank,dev-key:default"),
                        pipeline=pipeline, window_reads=NoCustomers())
    yield TestClient(app)


class NoCustomers:
    """The read models of a programme without customers: every link is of version 0."""

    async def link_version(self, programme: str, uniq_id: str) -> int:
        return 0


def test_valid_items_are_answered_in_the_source_shape_after_the_command_is_produced(
    client: TestClient, pipeline: FakePipeline
) -> None:
    raw = json.dumps({"typeOfCommand": "addBonusExtQuick",
                      "add": [ITEM, {"guid": "nope", "uniqId": "x"}]}).encode()
    response = client.post("/v1/commands", content=raw, headers={"X-Api-Key": "k1"})

    assert response.status_code == 200
    assert response.json() == {"results": [
        {"login": "12345678", "guid": ITEM["guid"], "status": "Success", "error": None},
        {"login": "x", "guid": "nope", "status": "Error", "error": {
            "code": "INVALID_FORMAT", "message": response.json()["results"][1]["error"][
                "message"], "field": "guid"}},
    ]}
    assert pipeline.commands == [(raw, "bank", response.headers["X-Command-Id"])]


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_is_a_413_and_is_not_produced(
    client: TestClient, pipeline: FakePipeline, chunked: bool
) -> None:
    body = b"x" * (LIMIT + 1)
    content = iter([body[:1000], body[1000:]]) if chunked else body
    response = client.post("/v1/commands", content=content, headers=KEY)
    assert response.status_code == 413
    assert response.json() == {"results": [], "error": {
        "code": "PAYLOAD_TOO_LARGE", "message": f"the command is larger than {LIMIT} bytes"}}
    assert pipeline.commands == []


def test_a_body_of_exactly_the_limit_is_read(client: TestClient) -> None:
    command = json.dumps({"typeOfCommand": "addBonusExtQuick", "add": [ITEM]}).encode()
    padded = command[:-1] + b" " * (LIMIT - len(command)) + b"}"
    assert client.post("/v1/commands", content=padded, headers=KEY).status_code == 200


@pytest.mark.parametrize(("raw", "code"), [
    (b"{not json", "INVALID_JSON"),
    (b'{"typeOfCommand": "stealPoints", "add": []}', "UNKNOWN_COMMAND"),
    (b'{"typeOfCommand": "addBonusExtQuick"}', "MISSING_FIELD"),
])
def test_a_command_rejected_as_a_whole_is_a_400_and_is_not_produced(
    client: TestClient, pipeline: FakePipeline, raw: bytes, code: str
) -> None:
    response = client.post("/v1/commands", content=raw, headers=KEY)
    assert response.status_code == 400
    assert set(response.json()) == {"results", "error"}
    assert (response.json()["results"], response.json()["error"]["code"]) == ([], code)
    assert pipeline.commands == []


def test_no_success_is_answered_when_kafka_does_not_acknowledge(
    client: TestClient, pipeline: FakePipeline
) -> None:
    pipeline.down = True
    raw = json.dumps({"typeOfCommand": "addBonusExtQuick", "add": [ITEM]}).encode()
    response = client.post("/v1/commands", content=raw, headers=KEY)
    assert response.status_code == 503
    assert "results" not in response.json()


class StubProducer:
    """A Kafka producer that starts (or not) and never acknowledges a record."""

    def __init__(self, starts: bool) -> None:
        self.starts = starts
        self.handed: list[bytes] = []

    async def start(self) -> None:
        if not self.starts:
            raise ConnectionError("no broker")

    async def stop(self) -> None:
        pass

    async def send_and_wait(self, topic: str, value: bytes, **_: object) -> None:
        self.handed.append(value)
        await asyncio.Event().wait()


@pytest.mark.parametrize(("starts", "says"), [
    (True, "the command may still be applied"),
    (False, "the command was not sent; send it again"),
])
def test_a_command_kafka_does_not_acknowledge_in_time_is_a_503_that_says_what_may_happen(
    monkeypatch: pytest.MonkeyPatch, starts: bool, says: str
) -> None:
    settings = Settings(api_keys="dev-key:default")
    stub = StubProducer(starts)
    monkeypatch.setattr(pipeline_module, "SEND_TIMEOUT_SECONDS", 0.05)
    app = bootstrap.api(settings, pipeline=PipelineClient(settings, lambda: stub))
    raw = json.dumps({"typeOfCommand": "addBonusExtQuick", "add": [ITEM]}).encode()

    response = TestClient(app).post("/v1/commands", content=raw, headers=KEY)

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "UNAVAILABLE" and says in error["message"]
    assert ("Sending it again is harmless" in error["message"]) is starts
    assert "results" not in response.json()
    assert response.headers["X-Command-Id"]
    assert stub.handed == ([raw] if starts else [])


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"X-Api-Key": "nope"}, 403)])
def test_the_gateway_needs_a_known_key(
    client: TestClient, pipeline: FakePipeline, headers: dict[str, str], status: int
) -> None:
    raw = json.dumps({"typeOfCommand": "addBonusExtQuick", "add": [ITEM]}).encode()
    assert client.post("/v1/commands", content=raw, headers=headers).status_code == status
    assert pipeline.commands == []


def test_the_login_link_is_issued_to_the_customers_programme_only(client: TestClient) -> None:
    bank = client.get("/v1/customers/12345678/link", headers={"X-Api-Key": "k1"}).json()
    default = client.get("/v1/customers/12345678/link", headers=KEY).json()
    assert bank["uniqId"] == default["uniqId"] == "12345678"
    assert bank["url"].startswith("/window/") and bank["url"] != default["url"]
    assert client.get("/v1/customers/12345678/link").status_code == 401
