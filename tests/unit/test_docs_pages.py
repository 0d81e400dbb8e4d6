"""The documentation pages name no other host: their scripts, styles, favicon and fonts come
from the application itself, so they work on a network without internet access.

No server: the application is built by its factory and asked in-process (its lifespan, which
opens the database pool and the Kafka producer, does not run). tests/browser/test_docs_pages.py
renders the same pages in a browser that may reach nothing else.
"""

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services import bootstrap
from services.settings import Settings

PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]*""", re.IGNORECASE)
"""An absolute URL (`http://`, `https://`) or a scheme-relative one (`//host/...`)."""
LINKED = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
FONT_FETCH = re.compile(
    r"fonts\.googleapis|fonts\.gstatic|@font-face|@import|\.woff2?\b|\.ttf\b|\.otf\b|\.eot\b",
    re.IGNORECASE)
"""What in a script or a style sheet would make the browser fetch a font (or another sheet)."""
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]*)""", re.IGNORECASE)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    yield TestClient(bootstrap.api(Settings()))


def linked(html: str) -> list[str]:
    return LINKED.findall(html)


@pytest.mark.parametrize("path", PAGES)
def test_a_docs_page_names_no_other_host(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert ABSOLUTE_URL.findall(response.text) == []
    assert all(url.startswith("/") for url in linked(response.text)), linked(response.text)


def test_swagger_ui_loads_its_assets_and_the_openapi_document_from_the_application(
    client: TestClient,
) -> None:
    html = client.get("/docs").text

    assert linked(html) == ["/docs/assets/swagger-ui.css", "/docs/assets/favicon.png",
                            "/docs/assets/swagger-ui-bundle.js"]
    assert "url: '/openapi.json'" in html
    assert "window.location.origin + '/docs/oauth2-redirect'" in html


def test_redoc_loads_its_script_and_no_web_font(client: TestClient) -> None:
    html = client.get("/redoc").text

    assert linked(html) == ["/docs/assets/favicon.png", "/docs/assets/redoc.standalone.js"]
    assert '<redoc spec-url="/openapi.json">' in html
    assert not FONT_FETCH.search(html)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_every_asset_of_a_page_is_served_and_fetches_no_font(
    client: TestClient, path: str
) -> None:
    for url in linked(client.get(path).text):
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
        if url.endswith((".js", ".css")):
            assert not FONT_FETCH.search(asset.text), url
        if url.endswith(".css"):
            fetched = [found for found in CSS_URL.findall(asset.text)
                       if not found.startswith("data:")]
            assert fetched == [], url


def test_the_openapi_document_is_where_the_pages_look_for_it(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    assert document["info"]["title"] == "Loyalty points"
    assert "/v1/commands" in document["paths"]
    assert not any(path.startswith(("/docs", "/redoc")) for path in document["paths"])


def test_behind_a_path_prefix_the_pages_point_under_it() -> None:
    with_prefix = TestClient(bootstrap.api(Settings()), root_path="/loyalty")

    html = with_prefix.get("/docs").text

    assert "/loyalty/docs/assets/swagger-ui-bundle.js" in html
    assert "url: '/loyalty/openapi.json'" in html
    assert '<redoc spec-url="/loyalty/openapi.json">' in with_prefix.get("/redoc").text


SOURCE = re.compile(r"'self'|'none'|data:|blob:|'sha256-[A-Za-z0-9+/]+={0,2}'|'unsafe-inline'")
"""The sources a page's Content-Security-Policy may name: this origin, inline data, hashes."""


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_a_docs_page_lets_the_browser_fetch_from_the_application_only(
    client: TestClient, path: str
) -> None:
    page = client.get(path)
    directives = {name: sources for name, *sources in (
        directive.split() for directive in page.headers["content-security-policy"].split(";"))}

    assert directives["default-src"] == ["'self'"]
    for name in ("img-src", "font-src", "connect-src", "style-src", "script-src"):
        assert directives[name][0] == "'self'", name
    for name, sources in directives.items():
        assert all(SOURCE.fullmatch(source) for source in sources), (name, sources)
        assert "'unsafe-inline'" not in sources or name == "style-src", name
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert len(directives["script-src"]) == 1 + len(inline)  # each inline script by its hash
