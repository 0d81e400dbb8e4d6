"""The documentation pages render in a browser that can reach nothing but the API.

The API runs in this process on a free port of 127.0.0.1, built by its factory, without its
lifespan: `/docs`, `/redoc`, their assets and `/openapi.json` need neither the database nor
Kafka (the lifespan only opens the read models' pool and the Kafka producer). The browser's
context routes every request: those to the API go through; any other is aborted as if the
network were down, and recorded. The tests assert that none reached the network, and that the
pages did not even ask for another host, but for one image that ReDoc's bundle always asks for
and that the pages' Content-Security-Policy refuses in the browser (so it never goes out).
"""

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from services import bootstrap
from services.settings import Settings

pytestmark = pytest.mark.browser

LOCAL_HOST = "127.0.0.1"
SCREEN = {"width": 1280, "height": 900}
RENDER_TIMEOUT_MS = 20_000
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
ELSEWHERE_SCRIPT = "https://cdn.example.org/ui.js"
ELSEWHERE_PAGE = "https://example.org/"
REFUSAL = re.compile(r"'([^']+)' violates the following Content Security Policy")
"""Chromium's console error for a fetch that the page's Content-Security-Policy refused."""


@pytest.fixture(scope="module")
def docs_api() -> Iterator[str]:
    """Base URL of the API application served by uvicorn in a thread, lifespan off."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind((LOCAL_HOST, 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(bootstrap.api(Settings()), lifespan="off", log_config=None,
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.02)
    try:
        yield f"http://{LOCAL_HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        listening.close()


class Offline:
    """A browser context whose network reaches 127.0.0.1 only. It records the requests that
    reached the network and were for another host (routed, then aborted as if the network were
    down), what the pages' Content-Security-Policy refused before that, every request the
    pages issued, those that failed and why, and the pages' other errors."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport=SCREEN)
        self.elsewhere: list[str] = []
        self.requested: list[str] = []
        self.failed: dict[str, str | None] = {}
        self.refused: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.context.on("request", lambda request: self.requested.append(request.url))
        self.context.on("requestfailed",
                        lambda request: self.failed.update({request.url: request.failure}))

    def _route(self, route: Any) -> None:
        if urlsplit(route.request.url).hostname == LOCAL_HOST:
            route.continue_()
        else:
            self.elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    def open(self, url: str) -> Any:
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"page: {error}"))
        page.on("console", self._console)
        response = page.goto(url)
        assert response is not None and response.status == 200
        return page

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        if refusal := REFUSAL.search(message.text):
            self.refused.append(refusal.group(1))
        elif not message.text.startswith("Failed to load resource"):  # a request: see failed
            self.errors.append(f"console: {message.text}")

    def foreign(self) -> list[str]:
        """The requests the pages issued for another host (refused or aborted ones too)."""
        return [url for url in self.requested if urlsplit(url).hostname != LOCAL_HOST]


@pytest.fixture
def offline(browser: Any) -> Iterator[Offline]:
    network = Offline(browser)
    try:
        yield network
    finally:
        network.context.close()


def test_swagger_ui_renders_every_operation_offline(
    docs_api: str, offline: Offline, tmp_path: Path
) -> None:
    page = offline.open(f"{docs_api}/docs")

    commands = page.locator('.opblock-post [data-path="/v1/commands"]')
    commands.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert page.locator(".info .title").inner_text().startswith("Loyalty points")
    assert page.locator('.opblock-get [data-path="/v1/customers/{uniqId}"]').count() == 1
    assert page.locator(".opblock").count() >= 10
    commands.click()  # the operation opens: its request body and answers, from the document
    page.locator(".opblock-post.is-open .responses-wrapper").wait_for(timeout=RENDER_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=tmp_path / "docs.png", full_page=True)

    assert offline.elsewhere == []
    assert offline.refused == []
    assert offline.foreign() == []
    assert offline.failed == {}
    assert f"{docs_api}/docs/assets/swagger-ui-bundle.js" in offline.requested
    assert f"{docs_api}/openapi.json" in offline.requested
    assert offline.errors == []


def test_redoc_renders_the_title_and_the_operations_offline(
    docs_api: str, offline: Offline, tmp_path: Path
) -> None:
    page = offline.open(f"{docs_api}/redoc")

    title = page.locator(".api-info h1")
    title.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert title.inner_text().startswith("Loyalty points")
    commands = page.locator(
        '[data-section-id="tag/commands/operation/post_command_v1_commands_post"]')
    commands.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert commands.locator("h2").inner_text().strip() == "Post Command"
    assert "/v1/commands" in commands.inner_text()
    customer = page.locator(
        '[data-section-id="tag/read/operation/get_customer_v1_customers__uniqId__get"]')
    assert customer.locator("h2").inner_text().strip() == "Get Customer"
    assert "/v1/customers/{uniqId}" in customer.inner_text()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=tmp_path / "redoc.png")

    assert offline.elsewhere == []
    # ReDoc's bundle always asks for Redocly's logo (its sidebar's attribution); the page's
    # Content-Security-Policy refuses it in the browser, before any network: nothing else.
    assert offline.refused == [REDOCLY_LOGO]
    assert offline.foreign() == [REDOCLY_LOGO]
    assert offline.failed == {REDOCLY_LOGO: "csp"}
    assert f"{docs_api}/docs/assets/redoc.standalone.js" in offline.requested
    assert f"{docs_api}/openapi.json" in offline.requested
    assert offline.errors == []


def test_a_request_to_another_host_is_refused_by_the_page_or_caught_by_the_cut_network(
    docs_api: str, offline: Offline
) -> None:
    """The checks above would see a page that reaches out: here one does, twice."""
    page = offline.open(f"{docs_api}/docs")
    page.locator(".opblock").first.wait_for(timeout=RENDER_TIMEOUT_MS)

    page.evaluate("url => fetch(url).catch(() => null)", ELSEWHERE_SCRIPT)
    assert offline.refused == [ELSEWHERE_SCRIPT]
    assert offline.elsewhere == []

    with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"):
        page.goto(ELSEWHERE_PAGE)  # a navigation: the page's policy does not govern it
    assert offline.elsewhere == [ELSEWHERE_PAGE]
    assert offline.foreign() == [ELSEWHERE_PAGE]
