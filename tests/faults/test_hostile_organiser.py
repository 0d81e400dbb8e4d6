"""What a careless or hostile organiser sends never hurts another organiser.

Each case sends, through real Kafka with another client (librdkafka), what once stopped
everyone, then an ordinary command of another programme, which must get both its results and be
readable through the read API, with no service restarted:

- an accrual with `"operationAmount": 0E-20000` (PostgreSQL cannot store it: it used to stop the
  read models for every programme);
- an accrual with `"amount": 1e9999999999999999999` (it used to get no stage-1 result at all);
- five commands of 440 messages of 2,000 characters to one customer, then a login (its answer
  used to be 4.5 MB, over the record limit: the relay crash-looped);
- a batch of commands compressed to a few kilobytes that expands past the batch bound.
"""

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.faults.system import Ledger, Results, Sent, Stream, System, producer, wait_until
from tests.faults.test_faults import letters
from tests.support.pipeline import delete_topics_with_prefix

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

ALPHA_KEY = "alpha-organiser-key-0123456789abcdef"
BETA_KEY = "beta-organiser-key-0123456789abcdef00"
MAX_BATCH_BYTES = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def system(kafka_bootstrap: str, module_postgres_dsn: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """`loyalty run` serving two programmes, with a batch bound small enough to test."""
    log_dir: Path = tmp_path_factory.mktemp("hostile")
    running = System(kafka_bootstrap, module_postgres_dsn, f"h{uuid.uuid4().hex[:8]}.",
                     log_dir, extra_env={
                         "LOYALTY_API_KEYS": f"{ALPHA_KEY}:alpha,{BETA_KEY}:beta",
                         "LOYALTY_MAX_BATCH_BYTES": str(MAX_BATCH_BYTES)})
    running.start()
    try:
        yield running
    finally:
        running.stop()
        asyncio.run(delete_topics_with_prefix(kafka_bootstrap, running.prefix))


def send(system: System, command: dict[str, Any], programme: str) -> str:
    """Produces one command with librdkafka; returns its commandId."""
    command_id = str(uuid.uuid4())
    raw = producer(system.bootstrap)
    raw.produce(system.topic("commands"), json.dumps(command).encode(),
                headers=[("programme", programme.encode()), ("commandId", command_id.encode())])
    assert raw.flush(60) == 0
    return command_id


def accrual(uniq_id: str, **fields: Any) -> dict[str, Any]:
    return {"guid": str(uuid.uuid4()), "uniqId": uniq_id, "amount": "2.50", "eventId": "e1",
            "eventDate": "2026-01-01T10:00:00+03", "eventType": "operation", **fields}


def another_programme_is_served(system: System, results: Results) -> None:
    """An ordinary command of programme beta gets both results and is readable."""
    uniq_id = f"beta-{uuid.uuid4().hex[:6]}"
    item = accrual(uniq_id)
    command_id = send(system, {"typeOfCommand": "addBonusExtQuick", "add": [item]}, "beta")
    wait_until(lambda: command_id in results.validation, 120, "beta's stage-1 result")
    wait_until(lambda: results.answered({item["guid"]}), 120, "beta's stage-2 result")
    assert results.processing[item["guid"]][0]["status"] == "Success"
    read = httpx.get(f"http://127.0.0.1:{system.http_port}/v1/customers/{uniq_id}",
                     headers={"X-Api-Key": BETA_KEY}, timeout=10)
    assert read.status_code == 200 and read.json()["balance"] == "2.50", read.text


def stage1_error(results: Results, command_id: str) -> Any:
    wait_until(lambda: command_id in results.validation, 120, "the stage-1 result")
    (item,) = results.validation[command_id]["results"]
    return item["error"]


def test_an_operation_amount_postgresql_cannot_store_is_refused_at_stage_1(
    system: System, results: Results
) -> None:
    pids = system.children()
    body = json.dumps({"typeOfCommand": "addBonusExtQuick",
                       "add": [accrual("odd-1", operationAmount="OPERATION_AMOUNT")]})
    command_id = str(uuid.uuid4())
    raw = producer(system.bootstrap)
    raw.produce(system.topic("commands"), body.replace('"OPERATION_AMOUNT"', "0E-20000").encode(),
                headers=[("programme", b"alpha"), ("commandId", command_id.encode())])
    assert raw.flush(60) == 0
    error = stage1_error(results, command_id)
    assert (error["code"], error["field"]) == ("INVALID_DECIMAL", "operationAmount")
    another_programme_is_served(system, results)
    assert system.children() == pids, "a service restarted"


def test_an_amount_with_a_huge_exponent_gets_its_stage_1_error(
    system: System, results: Results
) -> None:
    pids = system.children()
    body = json.dumps({"typeOfCommand": "addBonusExtQuick", "add": [accrual("odd-2")]})
    command_id = str(uuid.uuid4())
    raw = producer(system.bootstrap)
    raw.produce(system.topic("commands"),
                body.replace('"2.50"', "1e9999999999999999999").encode(),
                headers=[("programme", b"alpha"), ("commandId", command_id.encode())])
    assert raw.flush(60) == 0
    error = stage1_error(results, command_id)
    assert (error["code"], error["field"]) == ("INVALID_DECIMAL", "amount")
    another_programme_is_served(system, results)
    assert system.children() == pids, "a service restarted"


def test_a_flood_of_messages_to_one_customer_is_bounded_and_its_login_answer_fits(
    system: System, results: Results
) -> None:
    pids = system.children()
    uniq_id = f"flooded-{uuid.uuid4().hex[:6]}"
    guids: list[str] = []
    for _ in range(5):
        items = [{"guid": str(uuid.uuid4()), "uniqId": uniq_id, "message": "x" * 2000,
                  "showCount": 3} for _ in range(440)]
        guids += [item["guid"] for item in items]
        send(system, {"typeOfCommand": "addCustomerPointMessage", "add": items}, "alpha")
    wait_until(lambda: results.answered(set(guids)), 300, "every message item's answer")
    codes = [(results.processing[guid][0]["error"] or {}).get("code") for guid in guids]
    assert codes.count(None) == 100, "the customer's queue holds its bound"
    assert codes.count("MESSAGE_QUEUE_FULL") == len(guids) - 100
    login = {"guid": str(uuid.uuid4()), "uniqId": uniq_id, "method": "self"}
    send(system, {"typeOfCommand": "authorizeCustomer", "customers": [login]}, "alpha")
    wait_until(lambda: results.answered({login["guid"]}), 120, "the login's answer")
    answer = results.processing[login["guid"]][0]
    assert answer["status"] == "Success" and len(answer["messages"]) == 20
    assert len(json.dumps(answer)) < 200_000
    another_programme_is_served(system, results)
    assert system.children() == pids, "a service restarted"


def test_a_batch_that_expands_past_the_bound_is_dead_lettered_and_the_stream_goes_on(
    system: System, results: Results
) -> None:
    pids = system.children()

    async def bomb() -> None:
        kafka = AIOKafkaProducer(bootstrap_servers=system.bootstrap, compression_type="zstd",
                                 max_batch_size=64 * 1024 * 1024,
                                 max_request_size=4 * 1024 * 1024)
        await kafka.start()
        try:
            batch = kafka.create_batch()
            padded = {"typeOfCommand": "addBonusExtQuick", "add": [], "pad": " " * 1_000_000}
            for _ in range(16):  # 16 MB of commands, a few kilobytes compressed
                assert batch.append(key=None, value=json.dumps(padded).encode(),
                                    timestamp=None) is not None
            ack = await kafka.send_batch(batch, system.topic("commands"), partition=0)
            await ack
        finally:
            await kafka.stop()

    before = {letter["origin"] for letter in letters(system)}
    asyncio.run(bomb())
    another_programme_is_served(system, results)
    wait_until(lambda: any(letter["origin"] not in before and letter["service"] == "intake"
                           for letter in letters(system)), 60, "the batch's dead letter")
    (letter,) = [one for one in letters(system) if one["origin"] not in before]
    assert "more than 8388608 bytes" in str(letter["error"])
    assert system.children() == pids, "a service restarted"


@pytest.fixture(scope="module")
def ledger(system: System, sent: Sent, results: Results) -> Ledger:
    return Ledger(system, sent, results)


def test_the_ledger_holds_after_everything_above(system: System, sent: Sent, results: Results,
                                                 ledger: Ledger) -> None:
    with Stream(system, sent) as stream:
        wait_until(lambda: stream.count > 10, 60, "a few ordinary commands")
    results.wait_for_every_answer(sent)
    ledger.check()
