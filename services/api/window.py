"""The bonus window: the customer's own page, reached by the unique login link.

`GET /window/{token}` checks the link, then logs the customer in through the pipeline like
any organiser's `authorizeCustomer` item (method `link`): the item goes to the items topic, the
processor applies it, and the page shows the stored outcome (the messages shown at this login)
with the customer's status and balance. Opening the page is the login: each opening shows
every due message once (a link previewer that fetches the page uses up a show too).
"""

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.api.links import LinkSigner, Login, links_router
from services.api.pipeline import (
    PipelineClient,
    PipelineUnavailableError,
    Upstream,
    pipeline_lifespan,
)
from services.api.window_reads import LoginOutcome, OperationView, WindowReads
from services.contract.commands import CommandType, WorkItem
from services.contract.errors import ErrorCode
from services.contract.results import ShownMessage
from services.settings import DEV_LINK_SECRET, Settings

log = structlog.get_logger(__name__)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

CENTS = Decimal("0.01")
OUTCOME_DEADLINE_SECONDS = 10.0
OUTCOME_POLL_SECONDS = 0.05
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
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
    """A fresh `authorizeCustomer` item for a login through the link."""
    guid = str(uuid.uuid4())
    return WorkItem(command_id=f"window-{guid}", type_of_command=CommandType.AUTHORIZE_CUSTOMER,
                    programme=login.programme, guid=guid, uniq_id=login.uniq_id, method="link")


async def log_in(pipeline: PipelineClient, reads: WindowReads, login: Login) -> LoginOutcome:
    """Sends the login through the pipeline and waits for its stage-2 outcome."""
    item = authorization(login)
    await pipeline.send_item(item)
    deadline = time.monotonic() + OUTCOME_DEADLINE_SECONDS
    while (outcome := await reads.outcome(item.programme, item.guid)) is None:
        if time.monotonic() > deadline:
            raise LoginTimeoutError(item.guid)
        await asyncio.sleep(OUTCOME_POLL_SECONDS)
    return outcome


async def open_window(pipeline: PipelineClient, reads: WindowReads,
                      login: Login) -> WindowView | ErrorCode:
    """Logs the customer in; the view of the window, or why it cannot be shown."""
    outcome = await log_in(pipeline, reads, login)
    if outcome.error_code is not None:
        return ErrorCode(outcome.error_code)
    customer = await reads.customer(login.programme, login.uniq_id)
    if customer is None:  # cannot happen after a successful login; answered as unknown
        return ErrorCode.CUSTOMER_NOT_FOUND
    return WindowView(programme=login.programme, uniq_id=customer.uniq_id,
                      status=customer.status, balance=customer.balance,
                      messages=outcome.messages,
                      operations=await reads.operations(login.programme, login.uniq_id),
                      expiries=customer.expiries)


def page(request: Request, name: str, status: int, **context: object) -> HTMLResponse:
    """A rendered page of the window, never cached."""
    return templates.TemplateResponse(request, name, context, status_code=status,
                                      headers=PAGE_HEADERS)


def notice(request: Request, status: int, title: str, text: str,
           programme: str | None = None) -> HTMLResponse:
    """A page with one short notice instead of the window."""
    return page(request, "notice.html", status, title=title, text=text, programme=programme)


def window_router(settings: Settings) -> APIRouter:
    """`GET /window/{token}` (the customer's page) and the organisers' link endpoint."""
    if settings.link_secret == DEV_LINK_SECRET:
        log.warning("LOYALTY_LINK_SECRET is unset: login links are signed with the "
                    "development secret, anyone can forge them")
    signer = LinkSigner(settings.link_secret)
    router = APIRouter(lifespan=pipeline_lifespan(settings))
    router.include_router(links_router(signer))

    @router.get("/window/{token}", response_class=HTMLResponse, tags=["bonus window"],
                responses={403: {"description": "The customer is blocked"},
                           404: {"description": "No such link or customer"},
                           503: {"description": "The login could not be completed now"}})
    async def bonus_window(token: str, request: Request, pipeline: Upstream) -> HTMLResponse:
        """The customer's bonus window: opening it is a login by link (authorizeCustomer),
        which activates a New customer and shows each due message once."""
        login = signer.verify(token)
        if login is None:
            return notice(request, 404, "Link not found",
                          "This link is not valid. Please use the link your programme sent you.")
        try:
            view = await open_window(pipeline, request.app.state.window_reads, login)
        except (PipelineUnavailableError, LoginTimeoutError) as error:
            log.warning("bonus window login not completed", error=repr(error))
            return notice(request, 503, "Please try again",
                          "We could not open your bonus window just now. "
                          "Please reload the page in a moment.", login.programme)
        if view is ErrorCode.CUSTOMER_BLOCKED:
            return notice(request, 403, "Account blocked",
                          "Your account is blocked at the moment. Please contact the "
                          "programme's support team; we will be glad to help.", login.programme)
        if isinstance(view, ErrorCode):
            return notice(request, 404, "Account not found",
                          "We could not find your account. Please use the link your "
                          "programme sent you.", login.programme)
        return page(request, "window.html", 200, view=view)

    return router
