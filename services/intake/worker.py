"""Stage 1 as a faust-streaming agent: validate every command, answer at once, forward items.

Run it with `loyalty intake`. The agent takes commands in small batches, calls the pure
`validate_command` (in a worker thread, so heartbeats go on) and writes: valid items to
`loyalty.items` (keyed by programme and customer), then the stage-1 results to
`loyalty.results` (keyed by commandId). It never raises on bad input; agent concurrency is 1
and a batch's events are acknowledged only after its records were acknowledged by the broker,
so faust commits no offset past a command still in flight.
"""

import asyncio
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import faust
import structlog

from services.adapters.kafka import MAX_RECORD_BYTES
from services.contract import topics
from services.contract.validation import Validated, ValidationRules, validate_command
from services.settings import Settings

log = structlog.get_logger(__name__)

COMMAND_ID_NAMESPACE = uuid.UUID("6f1d9c1e-4f57-4c1b-9a52-3d7e1c0b8a11")
COMMANDS_PER_BATCH = 20
"""Commands validated and produced together: one wait for the broker's acks per batch."""
BATCH_WAIT_SECONDS = 0.005
"""How long a batch waits to fill before it is handled as it is."""


def header(headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None,
           name: str) -> str | None:
    """A header's value as text, or None when absent or not UTF-8."""
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or [])
    for key, value in pairs:
        if key == name and value is not None:
            try:
                return value.decode() if isinstance(value, bytes) else str(value)
            except UnicodeDecodeError:
                return None
    return None


def derived_command_id(topic: str, partition: int, offset: int) -> str:
    """A stable commandId for a record that came without one."""
    return str(uuid.uuid5(COMMAND_ID_NAMESPACE, f"{topic}:{partition}:{offset}"))


def create_intake(settings: Settings) -> faust.App:
    """The faust application with its one agent; nothing connects until the worker starts."""
    intake = faust.App(
        settings.intake_group,
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
        value_serializer="raw",
        key_serializer="raw",
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=True,
        web_enabled=False,
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="loyalty-intake-"),
        consumer_max_fetch_size=MAX_RECORD_BYTES,
        producer_max_request_size=MAX_RECORD_BYTES,
        producer_acks=-1,
        broker_commit_every=1000,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        broker_commit_interval=1.0,
    )
    rules = ValidationRules.from_settings(settings)
    commands = intake.topic(settings.commands_topic, value_serializer="raw", key_serializer="raw")

    @intake.agent(commands, concurrency=1)
    async def validate(stream: faust.StreamT[Any]) -> None:
        batches = cast(faust.Stream[Any], stream).take_events(
            COMMANDS_PER_BATCH, within=BATCH_WAIT_SECONDS
        )
        async for events in batches:
            commands = [received(event) for event in events]
            answers = await asyncio.to_thread(validate_all, commands, rules)
            await publish(intake, settings, answers)

    return intake


@dataclass(frozen=True)
class Received:
    """A command as it came off the topic, with the ids its headers (or position) give it."""

    raw: bytes
    command_id: str
    programme: str


def received(event: faust.EventT[Any]) -> Received:
    message = event.message
    command_id = header(message.headers, topics.COMMAND_ID_HEADER) or derived_command_id(
        message.topic, message.partition, message.offset
    )
    programme = header(message.headers, topics.PROGRAMME_HEADER) or topics.DEFAULT_PROGRAMME
    return Received(event.value if isinstance(event.value, bytes) else b"", command_id, programme)


def validate_all(
    commands: list[Received], rules: ValidationRules
) -> list[tuple[Received, Validated]]:
    """Stage 1 for a batch of commands (CPU-bound: run in a worker thread)."""
    return [
        (command, validate_command(command.raw, command_id=command.command_id,
                                   programme=command.programme, rules=rules))
        for command in commands
    ]


async def publish(
    intake: faust.App, settings: Settings, answers: list[tuple[Received, Validated]]
) -> None:
    """Produces every valid item, then every stage-1 result, each wave awaited as a whole.

    Results follow their items, so a `Success` means the item is on Kafka; the batch's offsets
    are acknowledged to faust only after both waves (at least once). Records go straight
    through the producer: faust's per-message `topic.send` bookkeeping costs more than
    validating an item. A result carries its command's `programme` header, as the command did.
    """
    await asyncio.gather(*[
        await intake.producer.send(settings.items_topic,
                                   topics.item_key(item.programme, item.uniq_id),
                                   item.to_json(), None, None, None)
        for _, validated in answers for item in validated.items
    ])
    await asyncio.gather(*[
        await intake.producer.send(settings.results_topic, command.command_id.encode(),
                                validated.result.to_json(), None, None,
                                [(topics.PROGRAMME_HEADER, command.programme.encode())])
        for command, validated in answers
    ])
