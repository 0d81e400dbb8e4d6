"""The bonus window without servers: a fake pipeline applies each login at once in memory.

The real round trip through Kafka, the processor and PostgreSQL is tests/browser's business.
"""

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from services import bootstrap
from services.api import window
from services.api.links import LinkSigner
from services.api.window_reads import window_reads_of
from services.domain.commands import Message
from services.settings import Settings
from tests.support.domain import World, add, block, revoke_links
from tests.support.links import spellings
from tests.support.window import FakePipeline, MemoryHits, WorldReads

SETTINGS = Settings(link_secret="unit-test secret", dev_mode=True)
SIGNER = LinkSigner(SETTINGS.link_secret)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def pipeline(world: World) -> FakePipeline:
    return FakePipeline(world)


@pytest.fixture
def client(pipeline: FakePipeline) -> Iterator[TestClient]:
    app = bootstrap.api(SETTINGS, pipeline=pipeline, window_reads=WorldReads(pipeline.world),
                        login_hits=MemoryHits())
    yield TestClient(app)


def link(uniq_id: str, version: int = 0) -> str:
    token, _ = SIGNER.token("default", uniq_id, version)
    return f"/window/{token}"


def csrf_of(page: Any) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def log_in(client: TestClient, path: str, **headers: str) -> Any:
    """Opens the link's page, then posts its login form, as the page's script does."""
    opened = client.get(path)
    assert opened.status_code == 200, opened.text
    return client.post(path, data={"csrf": csrf_of(opened)}, headers=headers)


def test_opening_a_link_shows_a_page_that_logs_no_one_in(
    client: TestClient, pipeline: FakePipeline, world: World
) -> None:
    world.one(add("ann", message=Message(text="Hello", show_count=2)))

    page = client.get(link("ann"))

    assert page.status_code == 200
    assert pipeline.sent == []
    customer = world.customer("ann")
    assert customer is not None and str(customer.status) == "New"
    assert [m.shows_left for m in customer.messages.values()] == [2]
    assert 'method="post"' in page.text and "<noscript><button" in page.text
    assert "script-src 'sha256-" in page.headers["Content-Security-Policy"]
    assert "SameSite=strict" in page.headers["set-cookie"]


def test_the_posted_login_shows_balance_and_messages(
    client: TestClient, pipeline: FakePipeline, world: World
) -> None:
    world.one(add("ann", amount="1234.5", message=Message(text="<b>Hello</b>", show_count=2)))

    page = log_in(client, link("ann"))

    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert 'data-balance="1,234.50"' in page.text
    assert "&lt;b&gt;Hello&lt;/b&gt;" in page.text and "<b>Hello" not in page.text
    assert 'data-shows-left="1"' in page.text
    (login,) = pipeline.sent
    assert (login.type_of_command, login.method, login.uniq_id) == (
        "authorizeCustomer", "link", "ann")
    assert login.command_id == f"window-{login.guid}"


def test_a_new_customer_is_active_once_logged_in(client: TestClient, world: World) -> None:
    world.one(add("newcomer", message=Message(text="Welcome")))
    assert log_in(client, link("newcomer")).status_code == 200
    customer = world.customer("newcomer")
    assert customer is not None and str(customer.status) == "Active"
    assert customer.balance == Decimal(0)


@pytest.mark.parametrize("posted", [
    {"data": {"csrf": "guessed"}},
    {"data": {}},
    {"data": {"csrf": "@"}, "headers": {"Origin": "https://evil.example"}},
    {"data": {"csrf": "@"}, "headers": {"Sec-Fetch-Site": "cross-site"}},
])
def test_a_login_posted_from_elsewhere_is_refused(
    client: TestClient, pipeline: FakePipeline, world: World, posted: dict[str, Any]
) -> None:
    world.one(add("ann", amount="1"))
    opened = client.get(link("ann"))
    data = {name: csrf_of(opened) if value == "@" else value
            for name, value in posted["data"].items()}

    page = client.post(link("ann"), data=data, headers=posted.get("headers", {}))

    assert (page.status_code, "Please open your link again" in page.text) == (403, True)
    assert pipeline.sent == []


def test_a_login_without_the_page_s_cookie_is_refused(
    client: TestClient, pipeline: FakePipeline, world: World
) -> None:
    world.one(add("ann", amount="1"))
    csrf = csrf_of(client.get(link("ann")))
    client.cookies.clear()

    assert client.post(link("ann"), data={"csrf": csrf}).status_code == 403
    assert pipeline.sent == []


def test_logins_are_rate_limited_per_link(client: TestClient, world: World) -> None:
    world.one(add("ann", amount="1"))
    path = link("ann")
    codes = [log_in(client, path).status_code for _ in range(12)]

    assert codes[:10] == [200] * 10
    assert codes[10:] == [429, 429]


def test_other_spellings_of_a_link_neither_log_in_nor_use_or_escape_its_limit(
    client: TestClient, pipeline: FakePipeline, world: World
) -> None:
    world.one(add("ann", amount="1"))
    path = link("ann")
    variants = [f"/window/{quote(variant, safe='')}" for variant in
                spellings(path.removeprefix("/window/")).values()]
    csrf = csrf_of(client.get(path))

    def try_variants() -> list[int]:
        return [client.post(variant, data={"csrf": csrf}).status_code for variant in variants]

    assert set(try_variants()) == {404}
    codes = [log_in(client, path).status_code for _ in range(11)]
    assert set(try_variants()) == {404}

    assert codes == [200] * 10 + [429]
    assert len(pipeline.sent) == 10


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_huge_login_form_is_refused_with_413_before_it_is_read(
    client: TestClient, pipeline: FakePipeline, world: World, declared: bool
) -> None:
    world.one(add("ann", amount="1"))
    chunk, chunks = b"csrf=" + b"x" * (64 * 1024), 1024  # 64 MiB
    sent = 0

    async def huge() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(chunks):
            sent += 1
            yield chunk

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app)
        headers = {"Content-Length": str(len(chunk) * chunks)} if declared else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.post(link("ann"), content=huge(), headers=headers)

    answer = asyncio.run(post())

    assert answer.status_code == 413
    assert sent <= 1, "the body was read on"
    assert pipeline.sent == []


def test_a_blocked_customer_gets_a_polite_page(client: TestClient, world: World) -> None:
    world.one(add("bob", amount="5"))
    world.one(block("bob"))
    page = log_in(client, link("bob"))
    assert (page.status_code, "Account blocked" in page.text) == (403, True)


def test_an_unknown_customer_is_a_404_page(client: TestClient) -> None:
    page = log_in(client, link("nobody"))
    assert (page.status_code, "Account not found" in page.text) == (404, True)


@pytest.mark.parametrize("path", [
    "/window/not-a-token", link("ann")[:-3] + "abc",
    "/window/" + LinkSigner("another secret").token("default", "ann", 0)[0],
])
def test_a_forged_or_tampered_link_is_a_404_page(client: TestClient, path: str) -> None:
    for answer in (client.get(path), client.post(path, data={"csrf": "x"})):
        assert (answer.status_code, "Link not found" in answer.text) == (404, True)
        assert answer.headers["content-type"].startswith("text/html")


def test_an_expired_link_is_a_410_page(client: TestClient, world: World) -> None:
    world.one(add("ann", amount="1"))
    old = LinkSigner(SETTINGS.link_secret, timedelta(days=30),
                     clock=lambda: time.time() - 31 * 86400)
    path = f"/window/{old.token('default', 'ann', 0)[0]}"

    page = client.get(path)

    assert (page.status_code, "This link has expired" in page.text) == (410, True)


def test_a_revoked_link_is_a_410_page_and_a_new_one_works(
    client: TestClient, world: World
) -> None:
    world.one(add("ann", amount="1"))
    world.one(revoke_links("ann"))

    page = client.get(link("ann", version=0))

    assert (page.status_code, "no longer valid" in page.text) == (410, True)
    assert log_in(client, link("ann", version=1)).status_code == 200


class LaggingReads(WorldReads):
    """Read models that have not caught up with any revocation yet."""

    async def link_version(self, programme: str, uniq_id: str) -> int:
        return 0


def test_a_revoked_link_logs_no_one_in_while_the_read_models_lag(
    client: TestClient, pipeline: FakePipeline, world: World
) -> None:
    client.app.dependency_overrides[window_reads_of] = (  # type: ignore[attr-defined]
        lambda: LaggingReads(world))
    world.one(add("ann", message=Message(text="Hello")))
    world.one(revoke_links("ann"))

    page = log_in(client, link("ann", version=0))

    assert (page.status_code, "no longer valid" in page.text) == (410, True)
    (login,) = pipeline.sent
    assert login.link_version == 0
    customer = world.customer("ann")
    assert customer is not None and str(customer.status) == "New"
    assert [m.shows_left for m in customer.messages.values()] == [1]


def test_a_login_processed_after_its_link_expired_logs_no_one_in(
    client: TestClient, world: World
) -> None:
    world.one(add("ann", message=Message(text="Hello")))
    path = link("ann")
    world.now = datetime.now(UTC) + timedelta(days=31)  # the processor's clock, when it came

    page = log_in(client, path)

    assert (page.status_code, "This link has expired" in page.text) == (410, True)
    customer = world.customer("ann")
    assert customer is not None and [m.shows_left for m in customer.messages.values()] == [1]


def test_a_login_not_processed_in_time_asks_to_try_again(
    client: TestClient, pipeline: FakePipeline, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.one(add("slow", amount="1"))
    pipeline.stalled = True
    monkeypatch.setattr(window, "OUTCOME_DEADLINE_SECONDS", 0.2)
    page = log_in(client, link("slow"))
    assert (page.status_code, "Please try again" in page.text) == (503, True)


def test_kafka_down_asks_to_try_again(client: TestClient, pipeline: FakePipeline,
                                      world: World) -> None:
    world.one(add("anyone", amount="1"))
    pipeline.down = True
    assert log_in(client, link("anyone")).status_code == 503


def logins(client: TestClient) -> dict[str, float]:
    """`loyalty_logins_total` by outcome, as the application's metrics count them."""
    registry = client.app.state.resources.metrics.registry  # type: ignore[attr-defined]
    return {outcome: value for outcome in ("success", "forged", "expired", "revoked",
                                           "cross-site", "rate-limited", "blocked")
            if (value := registry.get_sample_value("loyalty_logins_total",
                                                   {"outcome": outcome}))}


def test_logins_are_counted_by_outcome(client: TestClient, world: World) -> None:
    world.one(add("ann", amount="1"))
    world.one(add("bob", amount="1"))
    world.one(block("bob"))
    ann = link("ann")  # one link: the rate limit counts per link
    assert log_in(client, link("bob")).status_code == 403
    client.get("/window/not-a-token")
    client.post(ann, data={"csrf": "guessed"})
    for _ in range(11):
        log_in(client, ann)

    assert logins(client) == {"success": 10, "blocked": 1, "forged": 1, "cross-site": 1,
                              "rate-limited": 1}
