"""The documentation pages, `/docs` (Swagger UI) and `/redoc` (ReDoc), served without a CDN.

FastAPI's own pages load their scripts, styles and favicon from public hosts (and ReDoc's
from Google Fonts), so on a network without internet access they stay blank. Here the same
pages, built with FastAPI's `get_swagger_ui_html` / `get_redoc_html`, load the assets that the
`fastapi-offline` package ships (Swagger UI's bundle and CSS, ReDoc's standalone bundle, a
favicon), served by the application itself under `ASSETS_PATH`. ReDoc gets no web fonts: its
text uses the browser's own fonts. Each page's Content-Security-Policy lets the browser fetch
from the application only (ReDoc's bundle still asks for Redocly's logo from a CDN: the browser
refuses it without a request, and the sidebar shows its text alone). The application must be
created with `docs_url=None` and `redoc_url=None` so that FastAPI adds no CDN pages of its own.
"""

import base64
import hashlib
import re

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
ASSETS_PATH = "/docs/assets"
ASSETS_PACKAGE = ("fastapi_offline", "static")
"""The package, and its folder, whose files are served under ASSETS_PATH."""
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"
POLICY = ("default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
          "connect-src 'self'; base-uri 'self'; form-action 'self'; object-src 'none'")
"""The pages' Content-Security-Policy: nothing is fetched from another origin (Swagger UI's
"Try it out" calls this API, the only server of its document), and no inline script runs but
the page's own (`{scripts}`: their hashes). Styles may be inline: ReDoc writes its own."""
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def confined(page: HTMLResponse) -> HTMLResponse:
    """`page` with the Content-Security-Policy that allows its own inline scripts only."""
    scripts = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in INLINE_SCRIPT.findall(bytes(page.body).decode()))
    page.headers["Content-Security-Policy"] = POLICY.format(scripts=scripts)
    return page


def install_docs(app: FastAPI) -> None:
    """Adds `/docs`, its OAuth2 redirect page, `/redoc` and their assets to `app`."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the documentation pages need the OpenAPI document (openapi_url)")
    app.mount(ASSETS_PATH, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        prefix = root(request)
        assets = prefix + ASSETS_PATH
        return confined(get_swagger_ui_html(
            openapi_url=prefix + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets}/{SWAGGER_JS}",
            swagger_css_url=f"{assets}/{SWAGGER_CSS}",
            swagger_favicon_url=f"{assets}/{FAVICON}",
            oauth2_redirect_url=prefix + OAUTH2_REDIRECT_PATH,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        ))

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        prefix = root(request)
        assets = prefix + ASSETS_PATH
        return confined(get_redoc_html(
            openapi_url=prefix + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{assets}/{REDOC_JS}",
            redoc_favicon_url=f"{assets}/{FAVICON}",
            with_google_fonts=False,
        ))
