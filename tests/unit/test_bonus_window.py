"""The bonus window without servers: a fake pipeline applies each login at once in memory.

The real round trip through Kafka, the processor and PostgreSQL is tests/browser's business.
"""

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from services.api import window
from services.api.app import create_app
from services.api.links import LinkSigner, Login
from services.api.pipeline import PipelineUnavailableError
from services.api.window_reads import CustomerView, LoginOutcome, OperationView
from services.contract.commands import WorkItem
from services.contract.mapping import command_of, result_of
from services.domain import ItemOutcome, ids
from services.domain.commands import Message
from services.settings import Settings
from tests.support.domain import World, add, block

SETTINGS = Settings(link_secret="unit-test secret")
SIGNER = LinkSigner(SETTINGS.link_secret)


class FakePipeline:
    """Processes every item it is sent at once, unless it is stalled or down."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.sent: list[WorkItem] = []
        self.stalled = False
        self.down = False

    async def send_item(self, item: WorkItem) -> None:
        if self.down:
            raise PipelineUnavailableError("kafka did not acknowledge the record")
        self.sent.append(item)
        if not self.stalled:
            self.world.one(command_of(item))


class WorldReads:
    """The window's reads, answered from the in-memory world."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def customer(self, programme: str, uniq_id: str) -> CustomerView | None:
        found = self.world.customer(uniq_id, programme)
        return None if found is None else CustomerView(found.uniq_id, found.status.value,
                                                       found.balance)

    async def operations(self, programme: str, uniq_id: str) -> list[OperationView]:
        found = self.world.customer(uniq_id, programme)
        accruals = [] if found is None else [
            e for e in self.world.events(found.id) if type(e).__name__ == "PointsAccrued"]
        return [OperationView(e.event_date, e.merchant_name, e.operation_type or "accrual",
                              e.amount) for e in reversed(accruals)][:20]

    async def outcome(self, programme: str, guid: str) -> LoginOutcome | None:
        found = self.world.store.load(ids.item_id(programme, guid))
        if not isinstance(found, ItemOutcome):
            return None
        result = result_of(found.stored_answer)
        return LoginOutcome(None if result.error is None else result.error.code.value,
                            result.messages or [])


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def pipeline(world: World) -> FakePipeline:
    return FakePipeline(world)


@pytest.fixture
def client(pipeline: FakePipeline) -> Iterator[TestClient]:
    app = create_app(SETTINGS)
    app.state.pipeline = pipeline
    app.state.window_reads = WorldReads(pipeline.world)
    yield TestClient(app)


def link(uniq_id: str) -> str:
    return f"/window/{SIGNER.token(Login('default', uniq_id))}"


def test_opening_the_window_logs_in_by_link_and_shows_balance_and_messages(
    client: TestClient, pipeline: FakePipeline, world: World
) -> None:
    world.one(add("ann", amount="1234.5", message=Message(text="<b>Hello</b>", show_count=2)))

    page = client.get(link("ann"))

    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert 'data-balance="1,234.50"' in page.text
    assert "&lt;b&gt;Hello&lt;/b&gt;" in page.text and "<b>Hello" not in page.text
    assert 'data-shows-left="1"' in page.text
    (login,) = pipeline.sent
    assert (login.type_of_command, login.method, login.uniq_id) == (
        "authorizeCustomer", "link", "ann")
    assert login.command_id == f"window-{login.guid}"


def test_a_new_customer_is_active_once_the_window_opened(
    client: TestClient, world: World
) -> None:
    world.one(add("newcomer", message=Message(text="Welcome")))
    assert client.get(link("newcomer")).status_code == 200
    customer = world.customer("newcomer")
    assert customer is not None and str(customer.status) == "Active"
    assert customer.balance == Decimal(0)


def test_a_blocked_customer_gets_a_polite_page(client: TestClient, world: World) -> None:
    world.one(add("bob", amount="5"))
    world.one(block("bob"))
    page = client.get(link("bob"))
    assert (page.status_code, "Account blocked" in page.text) == (403, True)


@pytest.mark.parametrize(("path", "title"), [
    (link("nobody"), "Account not found"),
    ("/window/not-a-token", "Link not found"),
    (link("ann")[:-3] + "abc", "Link not found"),
])
def test_an_unknown_customer_or_link_is_a_404_page(
    client: TestClient, path: str, title: str
) -> None:
    page = client.get(path)
    assert (page.status_code, title in page.text) == (404, True)
    assert page.headers["content-type"].startswith("text/html")


def test_a_login_not_processed_in_time_asks_to_reload(
    client: TestClient, pipeline: FakePipeline, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.one(add("slow", amount="1"))
    pipeline.stalled = True
    monkeypatch.setattr(window, "OUTCOME_DEADLINE_SECONDS", 0.2)
    page = client.get(link("slow"))
    assert (page.status_code, "Please try again" in page.text) == (503, True)


def test_kafka_down_asks_to_reload(client: TestClient, pipeline: FakePipeline) -> None:
    pipeline.down = True
    assert client.get(link("anyone")).status_code == 503
