"""A customer's personal data is erased everywhere the service keeps it, through real Kafka and
PostgreSQL, and its points stay.

A customer with a phone, an e-mail address, messages (one shown at a login), accruals and an
item the processor gives up on is erased with `eraseCustomer`. Then every place the service
writes to is searched for the phone and the address: the event store (events and snapshots),
the read models, `loyalty.events`, the dead letters and every service's log; none holds them
readable. The balance and the operations are as they were, another customer may take the
phone, the erase sent again changes nothing, and a rebuild of the read models brings nothing
back. The export shows everything before and the erasure after. (What organisers send,
`loyalty.commands` and `loyalty.items`, is theirs, kept as long as those topics keep records:
docs/privacy.md.)
"""

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from services.contract.topics import item_key
from tests.support.commands import accrual, add, outcome, phone, unique
from tests.support.pipeline import Organiser, Pipeline, read_all

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEV_KEY = {"X-Api-Key": "dev-key"}


@pytest.fixture(scope="module")
def api(pipeline: Pipeline) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pipeline.start_api(), headers=DEV_KEY, timeout=30) as client:
        yield client


def everything_stored(pipeline: Pipeline) -> bytes:
    """Every row of every table of the database (event store, snapshots, keys, read models),
    as text."""
    with psycopg.connect(pipeline.dsn) as conn:
        tables = conn.execute(
            "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables "
            "WHERE table_schema IN ('public', 'read_models') AND table_type = 'BASE TABLE'"
        ).fetchall()
        rows = []
        for (table,) in tables:
            rows += [f"{table}: {row[0]}" for row in conn.execute(
                f"SELECT t::text FROM {table} t")]  # bytea columns print as hex: decode below
    text = "\n".join(rows)
    return text.encode() + b"\n" + hex_decoded(text)


def hex_decoded(text: str) -> bytes:
    """What the `\\x...` (bytea) values in `text` hold."""
    found = b""
    for part in text.split("\\\\x")[1:] + text.split("\\x")[1:]:
        digits = ""
        for char in part:
            if char in "0123456789abcdef":
                digits += char
            else:
                break
        try:
            found += bytes.fromhex(digits[: len(digits) // 2 * 2]) + b"\n"
        except ValueError:
            continue
    return found


def topic_bytes(pipeline: Pipeline, *topics: str) -> bytes:
    records = asyncio.run(read_all(pipeline.kafka_options, topics))
    return b"\n".join((record.key or b"") + b" " + (record.value or b"") + b" " + b" ".join(
        name.encode() + b"=" + (raw or b"") for name, raw in record.headers or ())
        for record in records)


def logs(pipeline: Pipeline) -> bytes:
    return b"\n".join(path.read_bytes() for path in pipeline.log_dir.glob("*.log"))


def readable_in(haystack: bytes, *needles: str) -> list[str]:
    lowered = haystack.lower()
    return [needle for needle in needles if needle.lower().encode() in lowered]


def erase(uniq_id: str, guid: str | None = None) -> dict[str, Any]:
    return {"typeOfCommand": "eraseCustomer",
            "customers": [{"guid": guid or str(uuid.uuid4()), "uniqId": uniq_id}]}


def test_an_erased_customer_is_readable_nowhere_and_keeps_its_points(
    organiser: Organiser, pipeline: Pipeline, api: httpx.Client
) -> None:
    ann, earlier_phone, its_phone = unique("ann"), phone(), phone()
    address = f"{ann}@personal.example.org"
    first = accrual(ann, "100.00", phone=earlier_phone, email=address,
                    message="Ann, your private offer", showCount=2)
    second = accrual(ann, "25.50", phone=its_phone, message="Ann, another private note")
    organiser.send(add(first))
    assert outcome(organiser, first["guid"])["status"] == "Success"
    organiser.send(add(second))
    login = {"guid": str(uuid.uuid4()), "uniqId": ann, "method": "self"}
    organiser.send({"typeOfCommand": "authorizeCustomer", "customers": [login]})
    assert [m["text"] for m in outcome(organiser, login["guid"])["messages"]] == [
        "Ann, your private offer", "Ann, another private note"]
    broken = {"commandId": "c-broken", "typeOfCommand": "addCustomerPointMessage",
              "programme": "default", "guid": str(uuid.uuid4()), "uniqId": ann,
              "phone": its_phone, "email": address, "accrual": {"amount": "lots"}}
    organiser.plant(pipeline.items_topic, json.dumps(broken).encode(),
                    key=item_key("default", ann))
    assert outcome(organiser, broken["guid"])["error"]["code"] == "PROCESSING_FAILED"

    before = api.get(f"/v1/customers/{ann}").json()
    assert (before["phone"], before["email"], before["balance"]) == (
        its_phone, address, "125.50")
    export = api.get(f"/v1/customers/{ann}/export").json()
    assert export["customer"] == before and export["erased"] is False
    assert {event["type"] for event in export["events"]} >= {
        "CustomerCreated", "PointsAccrued", "MessageQueued", "MessageShown"}
    assert len(export["operations"]) == 2
    operations = api.post("/v1/getBonusOperationExt", json={"uniqId": ann}).json()
    assert export["operations"] == operations["operations"]
    assert readable_in(everything_stored(pipeline), its_phone, address) == [its_phone,
                                                                            address], \
        "the read models hold them, for the read API, until the erasure"

    erasure = erase(ann)
    organiser.send(erasure)
    guid = erasure["customers"][0]["guid"]
    assert outcome(organiser, guid)["status"] == "Success"
    wait_until_erased(api, ann)

    personal = (its_phone, earlier_phone, address)  # the earlier phone: in PhoneChanged
    assert readable_in(everything_stored(pipeline), *personal) == []
    assert readable_in(topic_bytes(pipeline, f"{pipeline.prefix}events"), *personal) == []
    assert readable_in(topic_bytes(pipeline, pipeline.dead_letter_topic), *personal) == []
    assert readable_in(logs(pipeline), *personal) == []

    after = api.get(f"/v1/customers/{ann}").json()
    assert (after["phone"], after["email"], after["messages"]) == (None, None, [])
    assert after["balance"] == before["balance"] and after["erasedAt"] is not None
    assert api.post("/v1/getBonusOperationExt",
                    json={"uniqId": ann}).json()["operations"] == operations["operations"]
    erased_export = api.get(f"/v1/customers/{ann}/export").json()
    assert erased_export["erased"] is True and erased_export["erasedAt"] == after["erasedAt"]
    assert readable_in(json.dumps(erased_export).encode(), *personal) == []

    organiser.send(erasure)  # the same erase again: the same answer, nothing new
    assert [r["status"] for r in organiser.processing(guid, count=2)] == ["Success"] * 2

    bob = accrual(unique("bob"), phone=its_phone)
    organiser.send(add(bob))
    assert outcome(organiser, bob["guid"])["status"] == "Success", "the phone is free"

    rebuilt = subprocess.run([sys.executable, "-m", "services.cli", "projections", "rebuild"],
                             env=pipeline.env, cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stderr
    verified = subprocess.run([sys.executable, "-m", "services.cli", "projections", "verify"],
                              env=pipeline.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert readable_in(everything_stored(pipeline), address) == [], "nothing came back"
    assert api.get(f"/v1/customers/{ann}").json()["phone"] is None


def wait_until_erased(api: httpx.Client, uniq_id: str, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while api.get(f"/v1/customers/{uniq_id}").json().get("erasedAt") is None:
        if time.monotonic() > deadline:
            raise AssertionError("the read models did not show the erasure")
        time.sleep(0.1)
