"""The bonus window: the customer's own page, reached by a login link.

`GET /window/{token}` checks the link (signature, expiry, revocation) and shows a page that
changes nothing: link previewers and crawlers that fetch it log no one in. The page posts a
form to the same address at once (a button where script is off); `POST /window/{token}`,
checked against cross-site requests and rate-limited per link and per client address, logs the
customer in through the pipeline like any organiser's `authorizeCustomer` item (method `link`)
and shows the stored outcome (the messages shown at this login) with the customer's points,
next expiries and recent operations.
"""

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from limits import parse

from services.api.bodies import read_capped
from services.api.links import LinkSigner, Login, Refusal, links_router, window_path
from services.api.login_limits import Hits, LoginLimits
from services.api.metrics import LoginVerdict, count_login
from services.api.pipeline import Pipeline, PipelineUnavailableError, Upstream
from services.api.window_reads import LoginOutcome, OperationView, Reads, WindowReads
from services.contract.commands import CommandType, WorkItem
from services.contract.results import ShownMessage
from services.domain.answers import Rejection
from services.settings import Settings

log = structlog.get_logger(__name__)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

CENTS = Decimal("0.01")
OUTCOME_DEADLINE_SECONDS = 10.0
OUTCOME_POLL_SECONDS = 0.05
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
"""The link is the customer's key: never cached, never leaked in a Referer, never indexed."""


class LoginTimeoutError(Exception):
    """The login was sent but its outcome was not stored before the deadline."""


@dataclass(frozen=True)
class WindowView:
    """What the bonus window shows after one login."""

    programme: str
    uniq_id: str
    status: str
    balance: Decimal
    messages: list[ShownMessage]
    operations: list[OperationView]
    expiries: list[tuple[date, Decimal]] = field(default_factory=list)

    @property
    def balance_text(self) -> str:
        """The balance as people read it: `1,234.50`."""
        return points_text(self.balance)


def points_text(amount: Decimal) -> str:
    """Points as people read them: `1,234.50`."""
    return f"{amount.quantize(CENTS):,}"


def signed_points_text(amount: Decimal) -> str:
    """A change of points as people read it: `+1,234.50`, `-20.00`."""
    return ("+" if amount >= 0 else "-") + points_text(abs(amount))


templates.env.filters["points"] = points_text
templates.env.filters["signed_points"] = signed_points_text


def authorization(login: Login) -> WorkItem:
    """A fresh `authorizeCustomer` item for a login through the link, naming the link's
    version and expiry: stage 2 checks them against the customer itself, so a read model that
    lags behind a revocation lets no one in."""
    guid = str(uuid.uuid4())
    return WorkItem(command_id=f"window-{guid}", type_of_command=CommandType.AUTHORIZE_CUSTOMER,
                    programme=login.programme, guid=guid, uniq_id=login.uniq_id, method="link",
                    link_version=login.version,
                    link_expires_at=datetime.fromtimestamp(login.expires, UTC))


async def log_in(pipeline: Pipeline, reads: WindowReads, login: Login) -> LoginOutcome:
    """Sends the login through the pipeline and waits for its stage-2 outcome."""
    item = authorization(login)
    await pipeline.send_item(item)
    deadline = time.monotonic() + OUTCOME_DEADLINE_SECONDS
    while (outcome := await reads.outcome(item.programme, item.guid)) is None:
        if time.monotonic() > deadline:
            raise LoginTimeoutError(item.guid)
        await asyncio.sleep(OUTCOME_POLL_SECONDS)
    return outcome


async def open_window(pipeline: Pipeline, reads: WindowReads,
                      login: Login) -> WindowView | Rejection:
    """Logs the customer in; the view of the window, or why it cannot be shown."""
    outcome = await log_in(pipeline, reads, login)
    if outcome.error_code is not None:
        return Rejection(outcome.error_code)
    customer = await reads.customer(login.programme, login.uniq_id)
    if customer is None:  # cannot happen after a successful login; answered as unknown
        return Rejection.CUSTOMER_NOT_FOUND
    return WindowView(programme=login.programme, uniq_id=customer.uniq_id,
                      status=customer.status, balance=customer.balance,
                      messages=outcome.messages,
                      operations=await reads.operations(login.programme, login.uniq_id),
                      expiries=customer.expiries)


def page(request: Request, name: str, status: int, **context: object) -> HTMLResponse:
    """A rendered page of the window, never cached, with its content security policy."""
    return templates.TemplateResponse(request, name, context, status_code=status,
                                      headers={**PAGE_HEADERS,
                                               "Content-Security-Policy": CONTENT_SECURITY})


def notice(request: Request, status: int, title: str, text: str,
           programme: str | None = None) -> HTMLResponse:
    """A page with one short notice instead of the window."""
    return page(request, "notice.html", status, title=title, text=text, programme=programme)


OPEN_SCRIPT = "document.getElementById('open').submit();"
"""The one script of the window: it submits the login form of the link's page at once."""
CONTENT_SECURITY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'; script-src 'sha256-"
    + base64.b64encode(hashlib.sha256(OPEN_SCRIPT.encode()).digest()).decode() + "'")
CSRF_COOKIE = "window_csrf"
CSRF_SECONDS = 600


class WindowGuard:
    """What a login through the window must pass: a link that verifies and is not revoked, a
    form posted from the link's own page (not from another site), and the rate limits per link
    and per client address."""

    def __init__(self, settings: Settings) -> None:
        self.signer = LinkSigner(settings.link_secret, timedelta(days=settings.link_ttl_days),
                                 previous=settings.previous_link_secrets())
        self.limits = LoginLimits(parse(settings.login_rate_per_link),
                                  parse(settings.login_rate_per_address))

    async def login_of(self, token: str, reads: WindowReads) -> Login | Refusal:
        """Whose link this is, or why it opens nothing (forged, expired or revoked)."""
        login = self.signer.verify(token)
        if isinstance(login, Login) and login.version < await reads.link_version(
                login.programme, login.uniq_id):
            return Refusal.REVOKED
        return login


def same_origin(request: Request) -> bool:
    """Whether the browser says the request comes from this site (no say: it may). The page's
    `Referrer-Policy: no-referrer` makes browsers send `Origin: null` for its own form, so a
    null origin says nothing; `Sec-Fetch-Site` and the cookie still do."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin in (None, "null") or origin == f"{request.url.scheme}://{request.url.netloc}"


def posted_csrf(body: bytes) -> str:
    """The login form's `csrf` field."""
    fields = parse_qs(body.decode(errors="replace"))
    return (fields.get("csrf") or [""])[0]


def refused(request: Request, refusal: Refusal, programme: str | None = None) -> HTMLResponse:
    """The page of a link that opens nothing."""
    count_login(request, LoginVerdict(refusal.value))
    if refusal is Refusal.EXPIRED:
        return notice(request, 410, "This link has expired",
                      "Login links are valid for a limited time. Please ask your programme for "
                      "a new one.", programme)
    if refusal is Refusal.REVOKED:
        return notice(request, 410, "This link is no longer valid",
                      "This link was replaced. Please use the latest link your programme "
                      "sent you.", programme)
    return notice(request, 404, "Link not found",
                  "This link is not valid. Please use the link your programme sent you.")


LINK_REFUSALS = {Rejection.LINK_REVOKED: Refusal.REVOKED, Rejection.LINK_EXPIRED: Refusal.EXPIRED}
"""Stage 2's refusals of a link, and the page each one shows."""


def window_router(settings: Settings) -> APIRouter:
    """The customer's page behind a login link (`GET` shows it, `POST` logs in) and the
    organisers' link endpoints."""
    guard = WindowGuard(settings)
    router = APIRouter()
    router.include_router(links_router(guard.signer))
    answers: dict[int | str, dict[str, Any]] = {
        404: {"description": "No such link or customer"},
        410: {"description": "The link expired or was revoked"}}

    @router.get("/window/{token}", response_class=HTMLResponse, tags=["bonus window"],
                responses=answers)
    async def link_page(token: str, request: Request, reads: Reads) -> HTMLResponse:
        """The page a login link opens. Opening it logs no one in (a link preview changes
        nothing): the page posts the login form at once (with script) or shows its button."""
        login = await guard.login_of(token, reads)
        if isinstance(login, Refusal):
            return refused(request, login)
        csrf = secrets.token_urlsafe(32)
        response = page(request, "open.html", 200, programme=login.programme, csrf=csrf,
                        action=window_path(token), script=OPEN_SCRIPT)
        response.set_cookie(CSRF_COOKIE, csrf, max_age=CSRF_SECONDS, path="/window",
                            httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    @router.post("/window/{token}", response_class=HTMLResponse, tags=["bonus window"],
                 responses={**answers, 403: {"description": "Blocked, or not from this page"},
                            413: {"description": "The form is larger than a login form"},
                            429: {"description": "Too many logins"},
                            503: {"description": "The login could not be completed now"}})
    async def bonus_window(token: str, request: Request, pipeline: Upstream, reads: Reads,
                           hits: Hits) -> HTMLResponse:
        """The login through the link (authorizeCustomer), posted by the link's page: it
        activates a New customer and shows each due message once."""
        login = await guard.login_of(token, reads)
        if isinstance(login, Refusal):
            return refused(request, login)
        body = await read_capped(request, settings.max_login_body_bytes)
        if body is None:
            count_login(request, LoginVerdict.TOO_LARGE)
            return notice(request, 413, "Please open your link again",
                          "This page can only be opened from your login link.",
                          login.programme)
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not (cookie and same_origin(request)
                and hmac.compare_digest(cookie, posted_csrf(body))):
            count_login(request, LoginVerdict.CROSS_SITE)
            return notice(request, 403, "Please open your link again",
                          "This page can only be opened from your login link.",
                          login.programme)
        if not await guard.limits.allow(hits, token,
                                        request.client.host if request.client else "-"):
            count_login(request, LoginVerdict.RATE_LIMITED)
            return notice(request, 429, "Please wait a moment",
                          "There were too many attempts to open this window. Please try again "
                          "in a minute.", login.programme)
        try:
            view = await open_window(pipeline, reads, login)
        except (PipelineUnavailableError, LoginTimeoutError) as error:
            log.warning("bonus window login not completed", error=repr(error))
            count_login(request, LoginVerdict.UNAVAILABLE)
            return notice(request, 503, "Please try again",
                          "We could not open your bonus window just now. "
                          "Please open your link again in a moment.", login.programme)
        if isinstance(view, Rejection) and view in LINK_REFUSALS:
            return refused(request, LINK_REFUSALS[view], login.programme)
        if view is Rejection.CUSTOMER_BLOCKED:
            count_login(request, LoginVerdict.BLOCKED)
            return notice(request, 403, "Account blocked",
                          "Your account is blocked at the moment. Please contact the "
                          "programme's support team; we will be glad to help.", login.programme)
        if isinstance(view, Rejection):
            count_login(request, LoginVerdict.NOT_FOUND)
            return notice(request, 404, "Account not found",
                          "We could not find your account. Please use the link your "
                          "programme sent you.", login.programme)
        count_login(request, LoginVerdict.SUCCESS)
        return page(request, "window.html", 200, view=view)

    return router
