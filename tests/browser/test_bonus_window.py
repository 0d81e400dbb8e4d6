"""The bonus window in a real browser: the login link, balance, messages and their shows left."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.commands import accrual, add, outcome, unique
from tests.support.pipeline import Organiser

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PHONE_SCREEN = {"width": 390, "height": 844}


def login_link(api_url: str, uniq_id: str) -> str:
    """The customer's unique login link, asked for with the organiser's key."""
    response = httpx.get(f"{api_url}/v1/customers/{uniq_id}/link",
                         headers={"X-Api-Key": "dev-key"})
    response.raise_for_status()
    assert response.json()["uniqId"] == uniq_id
    return f"{api_url}{response.json()['url']}"


def open_window(page: Any, link: str) -> Any:
    """Opens a login link as a customer does: the link's page posts its login form at once;
    the response to that post (the window, or a notice)."""
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.goto(link, wait_until="commit")
    page.wait_for_load_state()
    return posted.value


def shown(page: Any) -> list[tuple[str, str]]:
    """The messages on the page: text and shows left."""
    cards = page.locator("li.message")
    return [(cards.nth(i).locator("p").first.inner_text(),
             cards.nth(i).get_attribute("data-shows-left")) for i in range(cards.count())]


def test_the_window_shows_the_balance_and_each_message_as_often_as_asked(
    api_url: str, organiser: Organiser, browser: Any, tmp_path: Path
) -> None:
    customer = unique("window")
    earned = accrual(customer, "1250.50", message="Thank you for shopping with us!\n"
                     "Your points are waiting for you.", showCount=2)
    organiser.send(add(earned))
    assert outcome(organiser, earned["guid"])["status"] == "Success"
    link = login_link(api_url, customer)

    page = browser.new_page(viewport=PHONE_SCREEN)
    response = open_window(page, link)
    assert response.status == 200
    assert page.locator(".amount").get_attribute("data-balance") == "1,250.50"
    assert page.locator(".status").inner_text() == "Active"
    assert shown(page) == [("Thank you for shopping with us!\nYour points are waiting for you.",
                            "1")]
    page.screenshot(path=tmp_path / "first-login.png", full_page=True)

    open_window(page, link)
    assert [left for _, left in shown(page)] == ["0"]
    open_window(page, link)
    assert shown(page) == []
    assert page.get_by_text("No new messages").is_visible()
    page.screenshot(path=tmp_path / "third-login.png", full_page=True)


def test_a_forged_link_finds_nothing(api_url: str, browser: Any) -> None:
    page = browser.new_page(viewport=PHONE_SCREEN)
    response = page.goto(f"{api_url}/window/ZGVmYXVsdB94.forged")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading").inner_text() == "Link not found"


def test_a_blocked_customer_sees_a_polite_page(
    api_url: str, organiser: Organiser, browser: Any, tmp_path: Path
) -> None:
    customer = unique("blocked")
    earned = accrual(customer)
    organiser.send(add(earned))
    outcome(organiser, earned["guid"])
    block = {"guid": str(uuid.uuid4()), "uniqId": customer}
    organiser.send({"typeOfCommand": "blockCustomers", "customers": [block]})
    assert outcome(organiser, block["guid"])["status"] == "Success"

    page = browser.new_page(viewport=PHONE_SCREEN)
    response = open_window(page, login_link(api_url, customer))
    assert response.status == 403
    assert page.get_by_role("heading").inner_text() == "Account blocked"
    page.screenshot(path=tmp_path / "blocked.png", full_page=True)


def test_the_window_lists_the_recent_operations_newest_first(
    api_url: str, organiser: Organiser, browser: Any, tmp_path: Path
) -> None:
    customer = unique("operations")
    bought = [accrual(customer, amount, merchantName=merchant, operationType="purchase")
              for amount, merchant in (("12.00", "Bakery"), ("250.50", "TZUM"),
                                       ("7.25", "Petrol station"))]
    for item in bought:  # one at a time: their order is the order they are listed in
        organiser.send(add(item))
        outcome(organiser, item["guid"])

    page = browser.new_page(viewport=PHONE_SCREEN)
    open_window(page, login_link(api_url, customer))
    rows = page.locator("tr.operation")
    listed = [[cell.strip() for cell in rows.nth(i).locator("td").all_inner_texts()]
              for i in range(rows.count())]

    assert [row[1:3] for row in listed] == [["Petrol station", "purchase"],
                                            ["TZUM", "purchase"], ["Bakery", "purchase"]]
    assert all(row[0] == "01 May 2024" for row in listed)
    assert [row[3] for row in listed] == ["+7.25", "+250.50", "+12.00"]
    assert page.locator(".amount").get_attribute("data-balance") == "269.75"
    page.screenshot(path=tmp_path / "operations.png", full_page=True)


def test_the_window_shows_the_spendable_points_and_when_points_expire(
    api_url: str, organiser: Organiser, browser: Any, tmp_path: Path
) -> None:
    customer = unique("expiries")
    soon = datetime.now(UTC) + timedelta(days=20)
    later = datetime.now(UTC) + timedelta(days=90)
    pending_until = datetime.now(UTC) + timedelta(days=5)
    earned = [accrual(customer, "40.00", expiresAt=soon.isoformat()),
              accrual(customer, "60.00", expiresAt=later.isoformat()),
              accrual(customer, "25.00", availableFrom=pending_until.isoformat())]
    organiser.send(add(*earned, command="addBonusExtQuick"))
    for item in earned:
        assert outcome(organiser, item["guid"])["status"] == "Success"

    page = browser.new_page(viewport=PHONE_SCREEN)
    open_window(page, login_link(api_url, customer))

    assert page.locator(".amount").get_attribute("data-balance") == "100.00"
    expiries = page.locator("li.expiry")
    assert [(expiries.nth(i).get_attribute("data-date"),
             expiries.nth(i).get_attribute("data-amount")) for i in range(expiries.count())] == [
        (soon.date().isoformat(), "40.00"), (later.date().isoformat(), "60.00")]
    page.screenshot(path=tmp_path / "expiries.png", full_page=True)


def test_without_script_the_link_page_offers_a_button_and_the_login_still_works(
    api_url: str, organiser: Organiser, browser: Any
) -> None:
    customer = unique("noscript")
    earned = accrual(customer, "3.00", message="Hello without script")
    organiser.send(add(earned))
    outcome(organiser, earned["guid"])
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()

    page.goto(login_link(api_url, customer))
    assert page.get_by_role("button", name="Open my bonus window").is_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Open my bonus window").click()

    assert shown(page) == [("Hello without script", "0")]
    context.close()
