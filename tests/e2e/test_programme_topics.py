"""Programmes isolated on Kafka: with a topic of its own per programme, what comes in on one
programme's commands topic acts for that programme alone, and its results and events go out on
its own topics only, so that Kafka ACLs (docs/security.md) keep organisers apart."""

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from tests.support.pipeline import SERVICES, Organiser, Pipeline

pytestmark = pytest.mark.e2e

ALPHA_KEY = "alpha-organiser-key-0123456789abcdef"
BETA_KEY = "beta-organiser-key-0123456789abcdef00"


@pytest.fixture(scope="module")
def pipeline(kafka_bootstrap: str, module_postgres_dsn: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    log_dir: Path = tmp_path_factory.mktemp("logs")
    running = Pipeline(kafka_bootstrap, module_postgres_dsn, f"p{uuid.uuid4().hex[:8]}.",
                       log_dir, extra_env={
                           "LOYALTY_TOPICS_PER_PROGRAMME": "true",
                           "LOYALTY_PROGRAMMES": "alpha,beta",
                           "LOYALTY_API_KEYS": f"{ALPHA_KEY}:alpha,{BETA_KEY}:beta"})
    running.prepare()
    for name in SERVICES:
        running.start(name, *SERVICES[name])
    running.start_api()
    try:
        yield running
    finally:
        running.stop_all()
        running.delete_topics()


@pytest.fixture(scope="module")
def alpha(pipeline: Pipeline) -> Iterator[Organiser]:
    client = Organiser(pipeline, f"{pipeline.prefix}commands.alpha",
                       f"{pipeline.prefix}results.alpha")
    yield client
    client.close()


@pytest.fixture(scope="module")
def beta(pipeline: Pipeline) -> Iterator[Organiser]:
    client = Organiser(pipeline, f"{pipeline.prefix}commands.beta",
                       f"{pipeline.prefix}results.beta")
    yield client
    client.close()


def accrual(uniq_id: str) -> dict[str, Any]:
    return {"typeOfCommand": "addBonusExtQuick", "add": [{
        "guid": str(uuid.uuid4()), "uniqId": uniq_id, "amount": "7.00", "eventId": "e",
        "eventDate": "2026-01-01T10:00:00+03", "eventType": "operation"}]}


def customer(pipeline: Pipeline, key: str, uniq_id: str) -> httpx.Response:
    return httpx.get(f"{pipeline.api_url}/v1/customers/{uniq_id}", headers={"X-Api-Key": key},
                     timeout=10)


def test_a_command_naming_another_programme_than_its_topic_is_refused_and_changes_nothing(
    pipeline: Pipeline, alpha: Organiser, beta: Organiser
) -> None:
    command = accrual("victim-1")
    command_id = alpha.send(command, programme="beta")
    refused = alpha.validation(command_id)
    assert refused["error"]["code"] == "INVALID_PROGRAMME"
    assert "another programme" in refused["error"]["message"]
    honest = beta.send(accrual("victim-1"))  # beta's own command, sent after the forgery
    guid = beta.validation(honest)["results"][0]["guid"]
    (answer,) = beta.processing(guid)
    assert answer["status"] == "Success"
    read = customer(pipeline, BETA_KEY, "victim-1").json()
    assert read["balance"] == "7.00", "only beta's own accrual applied"
    assert customer(pipeline, ALPHA_KEY, "victim-1").status_code == 404
    assert not [r for r in beta.results if r.get("commandId") == command_id]


def test_results_and_events_go_to_their_programmes_own_topics_only(
    pipeline: Pipeline, alpha: Organiser, beta: Organiser
) -> None:
    command_id = beta.send(accrual("beta-only"))
    guid = beta.validation(command_id)["results"][0]["guid"]
    beta.processing(guid)
    assert not [r for r in alpha.results if r.get("commandId") == command_id
                or r.get("guid") == guid]

    async def events_of(programme: str) -> list[dict[str, Any]]:
        consumer = AIOKafkaConsumer(f"{pipeline.prefix}events.{programme}",
                                    bootstrap_servers=pipeline.bootstrap, group_id=None,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=5000)
            return [json.loads(r.value) for rs in batches.values() for r in rs]
        finally:
            await consumer.stop()

    assert any(e["subject"] == "beta-only" for e in asyncio.run(events_of("beta")))
    assert not any(e["subject"] == "beta-only" for e in asyncio.run(events_of("alpha")))


def test_the_gateway_sends_a_keys_commands_to_its_programmes_topic(
    pipeline: Pipeline, alpha: Organiser
) -> None:
    answer = httpx.post(f"{pipeline.api_url}/v1/commands", headers={"X-Api-Key": ALPHA_KEY},
                        json=accrual("via-gateway"), timeout=30)
    assert answer.status_code == 200, answer.text
    guid = answer.json()["results"][0]["guid"]
    (processed,) = alpha.processing(guid)
    assert processed["status"] == "Success"
    assert customer(pipeline, ALPHA_KEY, "via-gateway").json()["balance"] == "7.00"
