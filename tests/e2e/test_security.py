"""Security through the running services: every organiser endpoint against no key, a wrong key
and another programme's key; login links that are forged, tampered, expired or revoked; a link
opened with GET changes nothing; the services' database role is no superuser."""

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest

from services.api.links import LinkSigner, Login
from services.api.window import authorization
from services.contract.topics import item_key
from services.settings import DEV_LINK_SECRET
from tests.support.commands import accrual, add, outcome, unique
from tests.support.pipeline import Organiser, Pipeline

pytestmark = pytest.mark.e2e

ALPHA = {"X-Api-Key": "alpha-key"}
BETA = {"X-Api-Key": "beta-key"}
WRONG = {"X-Api-Key": "not-a-key"}


@pytest.fixture(scope="module")
def api(pipeline: Pipeline) -> Iterator[str]:
    pipeline.extra_env["LOYALTY_API_KEYS"] = "alpha-key:alpha,beta-key:beta"
    yield pipeline.start_api()


@pytest.fixture(scope="module")
def alpha_customer(organiser: Organiser) -> dict[str, Any]:
    """A customer of programme alpha with an accrual and a message."""
    customer = unique("alpha")
    item = accrual(customer, "77.00", message="For alpha only", showCount=2)
    organiser.send(add(item), programme="alpha")
    assert outcome(organiser, item["guid"])["status"] == "Success"
    return {"uniqId": customer, "guid": item["guid"]}


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def visible(api: str, uniq_id: str) -> bool:
    return httpx.get(f"{api}/v1/customers/{uniq_id}", headers=ALPHA).status_code == 200


def operations(api: str, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{api}/v1/getBonusOperationExt", headers=headers, json=body)


def secured_operations(api: str) -> set[tuple[str, str]]:
    """(method, path) of every operation the OpenAPI document says needs the key."""
    document = httpx.get(f"{api}/openapi.json").json()
    return {(method.upper(), path) for path, methods in document["paths"].items()
            for method, operation in methods.items() if operation.get("security")}


def test_every_organiser_endpoint_refuses_no_key_a_wrong_key_and_other_programmes(
    api: str, organiser: Organiser, alpha_customer: dict[str, Any]
) -> None:
    wait_for(lambda: visible(api, alpha_customer["uniqId"]))
    uniq_id, guid = alpha_customer["uniqId"], alpha_customer["guid"]
    seed = {"typeOfCommand": "blockCustomers", "customers": [{"guid": str(uuid.uuid4()),
                                                              "uniqId": uniq_id}]}
    calls: dict[tuple[str, str], dict[str, Any]] = {
        ("GET", "/v1/customers/{uniqId}"): {"url": f"/v1/customers/{uniq_id}"},
        ("GET", "/v1/customers/{uniqId}/events"): {"url": f"/v1/customers/{uniq_id}/events"},
        ("GET", "/v1/customers/{uniqId}/link"): {"url": f"/v1/customers/{uniq_id}/link"},
        ("GET", "/v1/customers/{uniqId}/export"): {"url": f"/v1/customers/{uniq_id}/export"},
        ("POST", "/v1/customers/{uniqId}/links/revoke"): {
            "url": f"/v1/customers/{uniq_id}/links/revoke"},
        ("POST", "/v1/getBonusOperationExt"): {"url": "/v1/getBonusOperationExt",
                                               "json": {"uniqId": uniq_id}},
        ("GET", "/v1/items/{guid}"): {"url": f"/v1/items/{guid}"},
        ("POST", "/v1/commands"): {"url": "/v1/commands", "json": seed},
    }
    assert set(calls) == secured_operations(api), "every secured operation is tried here"

    for (method, _), call in calls.items():
        for headers, status in (({}, 401), (WRONG, 403)):
            answer = httpx.request(method, f"{api}{call['url']}", headers=headers,
                                   json=call.get("json"))
            assert answer.status_code == status, (method, call["url"], answer.text)

    beta: dict[tuple[str, str], httpx.Response] = {
        key: httpx.request(key[0], f"{api}{call['url']}", headers=BETA, json=call.get("json"))
        for key, call in calls.items()}
    assert beta["GET", "/v1/customers/{uniqId}"].status_code == 404
    assert beta["GET", "/v1/customers/{uniqId}/events"].status_code == 404
    assert beta["GET", "/v1/customers/{uniqId}/export"].status_code == 404
    assert beta["GET", "/v1/items/{guid}"].status_code == 404
    assert beta["POST", "/v1/getBonusOperationExt"].json()["count"] == 0
    assert "/window/" in beta["GET", "/v1/customers/{uniqId}/link"].json()["url"]
    revocation = beta["POST", "/v1/customers/{uniqId}/links/revoke"].json()["guid"]
    blocking = beta["POST", "/v1/commands"].json()["results"][0]["guid"]
    for item in (revocation, blocking):  # applied to beta's customer of that name: nobody
        result = outcome(organiser, item)
        assert (result["status"], result["error"]["code"]) == ("Error", "CUSTOMER_NOT_FOUND")
    alpha = httpx.get(f"{api}/v1/customers/{uniq_id}", headers=ALPHA).json()
    assert alpha["status"] == "Active" and alpha["balance"] == "77.00"
    assert httpx.get(f"{api}/v1/customers/{uniq_id}",
                     params={"asOf": "2100-01-01T00:00:00Z"}, headers=BETA).status_code == 404


def link_of(api: str, uniq_id: str, headers: dict[str, str] = ALPHA) -> str:
    answer = httpx.get(f"{api}/v1/customers/{uniq_id}/link", headers=headers)
    assert answer.status_code == 200, answer.text
    return f"{api}{answer.json()['url']}"


def test_opening_a_link_with_get_changes_nothing(
    api: str, organiser: Organiser, alpha_customer: dict[str, Any]
) -> None:
    newcomer = unique("newcomer")
    welcome = {"guid": str(uuid.uuid4()), "uniqId": newcomer, "message": "Welcome",
               "showCount": 3}
    organiser.send(add(welcome), programme="alpha")
    outcome(organiser, welcome["guid"])
    link = link_of(api, newcomer)

    for agent in ("TelegramBot (like TwitterBot)", "Slackbot-LinkExpanding 1.0", "curl/8"):
        page = httpx.get(link, headers={"User-Agent": agent})
        assert page.status_code == 200 and "Opening your bonus window" in page.text
    barrier = {"guid": str(uuid.uuid4()), "uniqId": newcomer, "email": "new@example.com"}
    organiser.send(add(barrier), programme="alpha")  # after anything a GET might have sent
    outcome(organiser, barrier["guid"])
    wait_for(lambda: httpx.get(f"{api}/v1/items/{barrier['guid']}",
                               headers=ALPHA).json()["status"] == "Success")

    customer = httpx.get(f"{api}/v1/customers/{newcomer}", headers=ALPHA).json()
    assert customer["status"] == "New"
    assert [m["showsLeft"] for m in customer["messages"]] == [3]
    assert not [r for r in organiser.results if r.get("typeOfCommand") == "authorizeCustomer"
                and r.get("login") == newcomer]


def test_forged_tampered_expired_and_revoked_links_get_a_clear_page(
    api: str, organiser: Organiser
) -> None:
    customer = unique("links")
    item = accrual(customer, "5.00")
    organiser.send(add(item), programme="alpha")
    outcome(organiser, item["guid"])
    link = link_of(api, customer)
    text, signature = link.rsplit("/", 1)[1].split(".")
    beta_link = link_of(api, customer, BETA).rsplit("/", 1)[1]
    expired = LinkSigner(DEV_LINK_SECRET, timedelta(days=30),
                         clock=lambda: time.time() - 40 * 86400).token("alpha", customer, 0)[0]

    pages = {
        "forged": httpx.get(f"{api}/window/{text}.{'A' * len(signature)}"),
        "tampered": httpx.get(f"{api}/window/{beta_link.split('.')[0]}.{signature}"),
        "expired": httpx.get(f"{api}/window/{expired}"),
    }
    assert (pages["forged"].status_code, pages["tampered"].status_code) == (404, 404)
    assert "Link not found" in pages["tampered"].text
    assert (pages["expired"].status_code, "has expired" in pages["expired"].text) == (410, True)
    assert httpx.get(link).status_code == 200

    revoked = httpx.post(f"{api}/v1/customers/{customer}/links/revoke", headers=ALPHA)
    assert revoked.status_code == 202
    assert outcome(organiser, revoked.json()["guid"])["status"] == "Success"
    wait_for(lambda: httpx.get(link).status_code == 410)
    assert "no longer valid" in httpx.get(link).text
    assert httpx.get(link_of(api, customer)).status_code == 200
    assert all(answer.status_code < 500 for answer in pages.values())


def test_a_login_through_a_revoked_link_is_refused_by_stage_2_whatever_the_read_models_say(
    api: str, organiser: Organiser, pipeline: Pipeline
) -> None:
    customer = unique("lagging")
    item = {"guid": str(uuid.uuid4()), "uniqId": customer, "message": "Hello", "showCount": 2}
    organiser.send(add(item), programme="alpha")
    outcome(organiser, item["guid"])
    revocation = {"typeOfCommand": "revokeLinks",
                  "customers": [{"guid": str(uuid.uuid4()), "uniqId": customer}]}
    organiser.send(revocation, programme="alpha")
    assert outcome(organiser, revocation["customers"][0]["guid"])["status"] == "Success"
    expires = int(time.time()) + 86400
    # The item the window sends for a link of version 0, as if its read of the customer's link
    # version had come before the revocation.
    login = authorization(Login("alpha", customer, version=0, expires=expires))
    organiser.call(organiser.producer.send_and_wait(
        f"{pipeline.prefix}items", login.to_json(), key=item_key("alpha", customer)))

    result = outcome(organiser, login.guid)

    assert (result["status"], result["error"]["code"]) == ("Error", "LINK_REVOKED")
    assert result["messages"] == []
    wait_for(lambda: httpx.get(f"{api}/v1/items/{login.guid}", headers=ALPHA).json()
             .get("status") == "Error")
    shown = httpx.get(f"{api}/v1/customers/{customer}", headers=ALPHA).json()
    assert (shown["status"], [m["showsLeft"] for m in shown["messages"]]) == ("New", [2])


def test_a_login_posted_from_another_site_changes_nothing(
    api: str, organiser: Organiser, alpha_customer: dict[str, Any]
) -> None:
    link = link_of(api, alpha_customer["uniqId"])
    with httpx.Client() as browser:
        page = browser.get(link)
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        attack = browser.post(link, data={"csrf": csrf},
                              headers={"Origin": "https://attacker.example"})
    assert (attack.status_code, "Please open your link again" in attack.text) == (403, True)


def test_every_service_works_under_a_role_that_is_no_superuser(
    api: str, pipeline: Pipeline, alpha_customer: dict[str, Any]
) -> None:
    if pipeline.service_dsn == pipeline.dsn:
        pytest.skip("the server was not started by deploy/postgres.sh: one role does all")
    wait_for(lambda: visible(api, alpha_customer["uniqId"]))  # the API has connected too
    with psycopg.connect(pipeline.dsn) as conn:
        roles = conn.execute(
            "SELECT DISTINCT a.usename, r.rolsuper, r.rolcreatedb FROM pg_stat_activity a "
            "JOIN pg_roles r ON r.rolname = a.usename "
            "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()").fetchall()
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = "
                             "'loyalty_events'").fetchone()
    assert roles == [("loyalty", False, False)]
    assert owner == ("loyalty_owner",)
