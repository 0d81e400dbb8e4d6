"""Drives the real services as an organiser would: produce commands, read results.

Each `Pipeline` runs intake, processor and relay as child processes (`python -m services.cli`)
on topics and a database of its own, so tests do not see each other's records. What the
services write is held to the published contracts (`tests.support.contracts`): the `Organiser`
checks every result it reads, and `contract_problems` every record of a pipeline's topics.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.adapters.kafka import client_options, stable_members
from services.settings import Settings
from tests.support import contracts

ROOT = Path(__file__).resolve().parents[2]
Result = dict[str, Any]
SERVICES: dict[str, tuple[str, ...]] = {
    "intake": ("intake",), "processor": ("processor",), "relay": ("relay",),
    "projections": ("projections", "run"), "clock": ("clock",),
}
"""The pipeline's services and their `loyalty` commands (the API starts on demand)."""


@dataclass
class Pipeline:
    bootstrap: str
    dsn: str
    prefix: str
    log_dir: Path
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    http_port: int | None = None
    """Where `loyalty api` listens once `start_api` chose a free port."""
    extra_env: dict[str, str] = field(default_factory=dict)
    """Settings of this pipeline's own (e.g. API keys), over the defaults."""

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "LOYALTY_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "LOYALTY_POSTGRES_DSN": self.service_dsn,
            "LOYALTY_POSTGRES_OWNER_DSN": self.dsn,
            "LOYALTY_DEV_MODE": "true",
            "LOYALTY_COMMANDS_TOPIC": f"{self.prefix}commands",
            "LOYALTY_ITEMS_TOPIC": f"{self.prefix}items",
            "LOYALTY_RESULTS_TOPIC": f"{self.prefix}results",
            "LOYALTY_EVENTS_TOPIC": f"{self.prefix}events",
            "LOYALTY_DEAD_LETTER_TOPIC": self.dead_letter_topic,
            "LOYALTY_INTAKE_GROUP": f"{self.prefix}intake",
            "LOYALTY_PROCESSOR_GROUP": f"{self.prefix}processor",
            "LOYALTY_PROJECTIONS_GROUP": f"{self.prefix}projections",
            "LOYALTY_LOG_JSON": "true",
            "LOYALTY_METRICS_PORT": "0",
            "LOYALTY_CLOCK_INTERVAL_SECONDS": "1",
            **({"LOYALTY_HTTP_HOST": "127.0.0.1", "LOYALTY_HTTP_PORT": str(self.http_port)}
               if self.http_port else {}),
            **self.extra_env,
        }

    @property
    def settings(self) -> Settings:
        """The settings the pipeline's services read."""
        return settings_of(self.env)

    @property
    def kafka_options(self) -> dict[str, Any]:
        """aiokafka's keyword arguments to reach the brokers as the services do."""
        return client_options(self.settings)

    @property
    def service_dsn(self) -> str:
        """The services' role on the pipeline's database (`dsn` is its owner's)."""
        from tests.conftest import service_dsn

        return service_dsn(self.dsn)

    @property
    def commands_topic(self) -> str:
        return f"{self.prefix}commands"

    @property
    def results_topic(self) -> str:
        return f"{self.prefix}results"

    @property
    def items_topic(self) -> str:
        return f"{self.prefix}items"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.prefix}deadletter"

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Starts `loyalty <args>` as a child process named `name`."""
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115
        child = subprocess.Popen(
            [sys.executable, "-m", "services.cli", *(args or (name,))],
            env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        self.children[name] = child
        return child

    @property
    def api_url(self) -> str:
        """Base URL of the API started by `start_api`."""
        assert self.http_port, "start_api() first"
        return f"http://127.0.0.1:{self.http_port}"

    def start_api(self, timeout: float = 60) -> str:
        """Starts `loyalty api` on a free port; returns its base URL once /healthz answers."""
        self.http_port = self.http_port or free_port()
        child = self.start("api")
        deadline = time.monotonic() + timeout
        while not answers(f"{self.api_url}/healthz"):
            if child.poll() is not None or time.monotonic() > deadline:
                log = (self.log_dir / "api.log").read_text(errors="replace")[-2000:]
                raise AssertionError(f"the API did not start:\n{log}")
            time.sleep(0.1)
        return self.api_url

    def prepare(self) -> None:
        subprocess.run([sys.executable, "-m", "services.cli", "prepare"],
                       env=self.env, cwd=ROOT, check=True, capture_output=True)

    def wait_for_log(self, name: str, text: str, count: int = 1, timeout: float = 60) -> None:
        """Blocks until the child's log holds `text` `count` times (e.g. a partition assignment)."""
        deadline = time.monotonic() + timeout
        log = self.log_dir / f"{name}.log"
        while log.read_text(errors="replace").count(text) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} never logged {text!r} {count} times")
            time.sleep(0.1)

    def wait_for_group(self, service: str, members: int, timeout: float = 60) -> None:
        """Blocks until `service`'s consumer group (intake, processor) is stable with `members`
        members: every instance joined and the partitions are handed out."""
        group = f"{self.prefix}{service}"
        deadline = time.monotonic() + timeout
        while asyncio.run(stable_members(self.settings, [group]))[group] != members:
            if time.monotonic() > deadline:
                raise AssertionError(f"{group} never settled with {members} members")
            time.sleep(0.2)

    def kill(self, name: str) -> None:
        """SIGKILL: the process gets no chance to flush or commit anything."""
        child = self.children.pop(name)
        child.kill()
        child.wait()

    def delete_topics(self) -> None:
        """Deletes every topic of this pipeline , so the broker stays lean."""
        asyncio.run(delete_topics_with_prefix(self.kafka_options, self.prefix))

    def stop_all(self) -> None:
        for child in self.children.values():
            child.terminate()
        for child in self.children.values():
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        self.children.clear()


class Organiser:
    """Produces commands and collects every result from the results topic in the background."""

    def __init__(self, pipeline: Pipeline, commands_topic: str | None = None,
                 results_topic: str | None = None) -> None:
        self.pipeline = pipeline
        self.commands_topic = commands_topic or pipeline.commands_topic
        self.results_topic = results_topic or pipeline.results_topic
        """Where this organiser sends commands and reads results (a programme's own topics,
        or the shared ones)."""
        self.results: list[Result] = []
        self.contract_problems: list[str] = []
        """What was wrong with results by the published contracts (`tests.support.contracts`)."""
        self.lock = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.producer: AIOKafkaProducer = self.call(self.start_producer())
        self.consumer_task = asyncio.run_coroutine_threadsafe(self.collect(), self.loop)

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    async def start_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(**self.pipeline.kafka_options, acks="all",
                                    max_request_size=4 * 1024 * 1024)
        await producer.start()
        return producer

    async def collect(self) -> None:
        consumer = AIOKafkaConsumer(self.results_topic,
                                    **self.pipeline.kafka_options,
                                    auto_offset_reset="earliest", group_id=None)
        await consumer.start()
        try:
            async for record in consumer:
                result = json.loads(record.value)
                wrong = [*contracts.result_problems(result),
                         *contracts.result_header_problems(result, record.headers)]
                with self.lock:
                    self.results.append(result)
                    self.contract_problems += [f"{record.value!r}: {problem}"
                                               for problem in wrong]
                    self.lock.notify_all()
        finally:
            await consumer.stop()

    def send(self, command: dict[str, Any] | bytes, *, programme: str | None = None,
             command_id: str | None = None) -> str:
        """Produces one command; returns its commandId."""
        command_id = command_id or str(uuid.uuid4())
        value = command if isinstance(command, bytes) else json.dumps(command).encode()
        headers = [("commandId", command_id.encode())]
        if programme:
            headers.append(("programme", programme.encode()))
        self.call(self.producer.send_and_wait(self.commands_topic, value, headers=headers))
        return command_id

    def plant(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        """Produces a record of the test's own to a topic only the service writes, marked so
        that the checks of the topic's records skip it (`contracts.PLANTED`)."""
        self.call(self.producer.send_and_wait(topic, value, key=key,
                                              headers=[(contracts.PLANTED, b"1")]))

    def wait_for(self, predicate: Callable[[list[Result]], bool], timeout: float = 90) -> None:
        """Blocks until `predicate(results)` holds, or fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(self.results):
                self.assert_contracts_kept()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; results so far: {self.results[-5:]}")
                self.lock.wait(timeout=left)

    def validation(self, command_id: str, timeout: float = 90) -> Result:
        """The stage-1 result of a command."""
        self.wait_for(lambda rs: any(is_validation_of(r, command_id) for r in rs), timeout)
        return next(r for r in self.results if is_validation_of(r, command_id))

    def processing(self, guid: str, count: int = 1, timeout: float = 90) -> list[Result]:
        """The first `count` stage-2 results of an item guid."""
        self.wait_for(lambda rs: len(processing_of(rs, guid)) >= count, timeout)
        with self.lock:
            return processing_of(self.results, guid)

    def assert_contracts_kept(self) -> None:
        """Fails when a result did not match the published contracts."""
        assert not self.contract_problems, (
            "results that break docs/contracts/results.schema.json:\n"
            + "\n".join(self.contract_problems[:5]))

    def close(self) -> None:
        self.consumer_task.cancel()
        self.call(self.producer.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.assert_contracts_kept()


async def delete_topics_with_prefix(kafka: str | dict[str, Any], prefix: str) -> None:
    """Deletes the topics whose names start with `prefix`; `kafka` is a bootstrap, or aiokafka's
    keyword arguments."""
    admin = AIOKafkaAdminClient(**({"bootstrap_servers": kafka} if isinstance(kafka, str)
                                   else kafka))
    await admin.start()
    try:
        doomed = [topic for topic in await admin.list_topics() if topic.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def settings_of(env: Mapping[str, str]) -> Settings:
    """The settings a service started with the environment `env` reads."""
    fields = {name.removeprefix("LOYALTY_").lower(): value for name, value in env.items()
              if name.startswith("LOYALTY_")}
    return Settings(**{name: value for name, value in fields.items()  # type: ignore[arg-type]
                       if name in Settings.model_fields})


async def read_all(kafka: dict[str, Any], topics: Iterable[str]
                   ) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record the topics hold now, from their beginning (`kafka`: aiokafka's keyword
    arguments, `Pipeline.kafka_options`)."""
    partitions = await partitions_of(kafka, list(topics))
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(**kafka, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[ConsumerRecord[bytes, bytes]] = []
        waiting = {tp for tp, end in ends.items() if end > 0}
        while waiting:
            batches = await consumer.getmany(*waiting, timeout_ms=1000)
            found += [record for records in batches.values() for record in records]
            waiting = {tp for tp in waiting if await consumer.position(tp) < ends[tp]}
        return found
    finally:
        await consumer.stop()


def value_problems(check: Callable[[Any], list[str]]) -> Callable[[Any], list[str]]:
    """A check of a record's JSON value."""

    def checked(record: Any) -> list[str]:
        try:
            value = json.loads(record.value)
        except (TypeError, ValueError) as error:
            return [f"not JSON: {error}"]
        return check(value)

    return checked


CHECKS: dict[str, Callable[[Any], list[str]]] = {
    "items": value_problems(contracts.work_item_problems),
    "results": value_problems(contracts.result_problems),
    "events": value_problems(contracts.event_problems),
    "deadletter": lambda record: contracts.dead_letter_problems(record.headers),
}
"""How each kind of topic's records are checked (a programme's own topics like the shared)."""


def contract_problems(pipeline: Pipeline) -> list[str]:
    """What is wrong, by the published contracts, with any record the services wrote to the
    pipeline's items, results, events and dead-letter topics (planted records apart)."""
    topics = asyncio.run(topics_with_prefix(pipeline.kafka_options, pipeline.prefix))
    kinds = {topic: topic[len(pipeline.prefix):].split(".")[0] for topic in topics}
    checked = [topic for topic, kind in kinds.items() if kind in CHECKS]
    found = []
    for record in asyncio.run(read_all(pipeline.kafka_options, checked)):
        if not contracts.planted(record.headers):
            found += [f"{record.topic}@{record.offset}: {problem}"
                      for problem in CHECKS[kinds[record.topic]](record)]
    return found


async def partitions_of(kafka: dict[str, Any], topics: list[str]) -> list[TopicPartition]:
    """The partitions of those of the topics that exist."""
    admin = AIOKafkaAdminClient(**kafka)
    await admin.start()
    try:
        described = await admin.describe_topics(topics) if topics else []
    finally:
        await admin.close()
    return [TopicPartition(topic["topic"], partition["partition"]) for topic in described
            if topic["error_code"] == 0 for partition in topic["partitions"]]


async def topics_with_prefix(kafka: dict[str, Any], prefix: str) -> list[str]:
    admin = AIOKafkaAdminClient(**kafka)
    await admin.start()
    try:
        return [topic for topic in await admin.list_topics() if topic.startswith(prefix)]
    finally:
        await admin.close()


def is_validation_of(result: Result, command_id: str) -> bool:
    return result.get("stage") == "validation" and result.get("commandId") == command_id


def processing_of(results: Iterable[Result], guid: str) -> list[Result]:
    return [r for r in results if r.get("stage") == "processing" and r.get("guid") == guid]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def answers(url: str) -> bool:
    """Whether a GET of `url` answers 200."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
