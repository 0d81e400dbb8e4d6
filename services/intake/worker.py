"""Stage 1: validate every command, answer at once, forward its items.

Run it with `loyalty intake`. `services.intake.consumer` takes commands off `loyalty.commands`
in small batches; `CommandValidator.handle` calls the pure `validate_command` (in a worker
thread, so the consumer's heartbeats go on) and writes: valid items to `loyalty.items` (an
envelope of a command's items per partition, keyed by programme and customer), then the stage-1
results to `loyalty.results` (keyed by commandId). The consumer commits a batch's offsets only
after the broker acknowledged everything it caused: a crash in between reads the commands
again, and the processor recognises items it has seen by their guid.

Failures are retried: those that pass by themselves (the broker away) for as long as they last,
the others a few times; a command that still cannot be handled goes to the dead-letter topic
and the stream goes on.
"""

import asyncio
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from services.adapters.dead_letters import DeadLetter, Origin, describe
from services.adapters.kafka import Record, partition_of
from services.adapters.metrics import ServiceMetrics
from services.adapters.publishing import Publisher
from services.contract import topics
from services.contract.commands import ENVELOPE_VERSION, WorkItem, WorkItems
from services.contract.validation import Validated, ValidationRules, validate_command
from services.settings import Settings

log = structlog.get_logger(__name__)

COMMAND_ID_NAMESPACE = uuid.UUID("6f1d9c1e-4f57-4c1b-9a52-3d7e1c0b8a11")
COMMANDS_PER_BATCH = 20
"""Commands validated and produced together: one wait for the broker's acks per batch."""
NOT_TEXT = object()
"""A header whose value is not UTF-8."""

HeaderPairs = Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None


def header(headers: HeaderPairs, name: str) -> Any:
    """A header's value as text; None when absent, `NOT_TEXT` when not UTF-8."""
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or [])
    for key, value in pairs:
        if key == name and value is not None:
            try:
                return value.decode() if isinstance(value, bytes) else str(value)
            except UnicodeDecodeError:
                return NOT_TEXT
    return None


def derived_command_id(topic: str, partition: int, offset: int) -> str:
    """A stable commandId for a record that came without one."""
    return str(uuid.uuid5(COMMAND_ID_NAMESPACE, f"{topic}:{partition}:{offset}"))


@dataclass(frozen=True)
class Received:
    """A command as it came off the topic, with the ids its headers (or position) give it."""

    origin: Origin
    command_id: str
    programme: str | None
    """As its topic (a programme's own) or its header names it (`default` without either);
    None when the header is not text, or names another programme than the topic."""
    topic_programme: str | None = None
    """The programme whose own commands topic the command came on (None: the shared one)."""

    @property
    def raw(self) -> bytes:
        return self.origin.value or b""

    @property
    def timestamp(self) -> datetime | None:
        """The record's Kafka timestamp (None when it has none: -1)."""
        at = self.origin.timestamp
        return None if at is None or at < 0 else datetime.fromtimestamp(at / 1000, UTC)


def received(message: Any, topic_programme: str | None = None) -> Received:
    """A command of a commands topic (a consumer record); `topic_programme`: the programme
    whose own topic it is (None: the shared topic, where the header names the programme)."""
    origin = Origin(topic=message.topic, partition=message.partition, offset=message.offset,
                    key=message.key, value=message.value, timestamp=message.timestamp,
                    headers=list(_pairs(message.headers)))
    command_id = header(origin.headers, topics.COMMAND_ID_HEADER)
    if not isinstance(command_id, str):
        command_id = derived_command_id(origin.topic, origin.partition, origin.offset)
    named = header(origin.headers, topics.PROGRAMME_HEADER)
    programme = named if isinstance(named, str) else None
    if named is None:
        programme = topic_programme or topics.DEFAULT_PROGRAMME
    elif topic_programme is not None and named != topic_programme:
        programme = None  # another programme than the topic's: refused
    return Received(origin, command_id, programme, topic_programme)


def _pairs(headers: HeaderPairs) -> Iterable[tuple[str, bytes]]:
    return headers.items() if isinstance(headers, Mapping) else (headers or [])


Checked = Validated | BaseException
"""Stage 1's answer to a command, or what went wrong while giving it (a bug)."""


def validate_all(commands: list[Received], rules: ValidationRules) -> list[Checked]:
    """Stage 1 for a batch of commands (CPU-bound: run in a worker thread). The function never
    raises on any input; should it still fail on one command, the others are answered."""
    answers: list[Checked] = []
    for command in commands:
        try:
            answers.append(validate_command(
                command.raw, command_id=command.command_id, programme=command.programme,
                rules=rules, topic_programme=command.topic_programme,
                timestamp=command.timestamp))
        except Exception as error:
            answers.append(error)
    return answers


def records_of(command: Received, validated: Validated, settings: Settings,
               partitions: Sequence[int]) -> tuple[list[Record], Record]:
    """The item records and the stage-1 result record of one validated command: the items
    in envelopes (`envelopes`) over the items topic's `partitions`."""
    items = envelopes(validated.items, settings.items_topic, partitions)
    programme = command.topic_programme or command.programme
    headers = [] if programme is None else [(topics.PROGRAMME_HEADER, programme.encode())]
    result = Record(settings.results_topic_of(programme), command.command_id.encode(),
                    validated.result.to_json(), headers)
    return items, result


ENVELOPE_BYTES = 256 * 1024
"""Where an envelope is closed and another begun: far below the record limit, whatever the
command's size, so that no envelope is refused for its size."""
ENVELOPE = [(topics.ENVELOPE_HEADER, str(ENVELOPE_VERSION).encode())]


def envelopes(items: Sequence[WorkItem], topic: str, partitions: Sequence[int],
              limit: int = ENVELOPE_BYTES) -> list[Record]:
    """The items of one command as records of the items topic: one `WorkItems` envelope per
    partition (more when one would pass `limit` bytes), each keyed by its first item, so that
    it lands on the partition the producer gives every one of its items (`partition_of`: that
    of their customer), in the command's order."""
    if not partitions:
        raise RuntimeError(f"the topic {topic} has no partitions")
    ordered = sorted(partitions)
    open_groups: dict[int, tuple[bytes, list[bytes], int]] = {}
    records: list[Record] = []

    def close(key: bytes, values: list[bytes]) -> None:
        records.append(Record(topic, key, WorkItems.encode(values), ENVELOPE))

    for item in items:
        key = topics.item_key(item.programme, item.uniq_id)
        value = item.to_json()
        partition = partition_of(key, ordered)
        group = open_groups.get(partition)
        if group is not None and group[2] + len(value) > limit:
            close(group[0], group[1])
            group = None
        if group is None:
            open_groups[partition] = (key, [value], len(value))
        else:
            group[1].append(value)
            open_groups[partition] = (group[0], group[1], group[2] + len(value) + 1)
    for key, values, _ in open_groups.values():
        close(key, values)
    return records


class CommandValidator:
    """Validates a batch of commands and publishes what they caused, or dead-letters them."""

    def __init__(self, settings: Settings, rules: ValidationRules, publisher: Publisher,
                 metrics: ServiceMetrics) -> None:
        self.settings = settings
        self.rules = rules
        self.publisher = publisher
        self.metrics = metrics

    async def handle(self, commands: list[Received]) -> None:
        """Returns once every command of the batch is published or dead-lettered."""
        answers = await asyncio.to_thread(validate_all, commands, self.rules)
        partitions = await self.publisher.partitions(self.settings.items_topic)
        valid: dict[int, tuple[list[Record], Record]] = {}
        for n, (command, answer) in enumerate(zip(commands, answers, strict=True)):
            if isinstance(answer, BaseException):
                await self.dead_letter(command, answer, attempts=1)
            else:
                valid[n] = records_of(command, answer, self.settings, partitions)
        failed = await self.publisher.publish(
            [(n, record) for n, (items, _) in valid.items() for record in items])
        failed |= await self.publisher.publish(
            [(n, result) for n, (_, result) in valid.items() if n not in failed])
        for n, error in failed.items():
            await self.dead_letter(commands[n], error, attempts=self.publisher.attempts)
        self.metrics.handled(self.settings.commands_topic, len(commands))

    async def dead_letter(self, command: Received, error: BaseException, attempts: int) -> None:
        log.error("command dead-lettered", origin=str(command.origin), error=describe(error))
        letter = DeadLetter(command.origin, "intake", describe(error), attempts)
        await self.publisher.publish_dead_letter(letter)
        self.metrics.dead_lettered(self.settings.commands_topic)
