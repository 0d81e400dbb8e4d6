"""`loyalty deadletter list | replay`: what the services gave up on, and sending it again.

Dead letters are read from the beginning of the dead-letter topic up to its end when the
command starts. Each is named by its own place in that topic, `partition:offset`.

Replaying produces the original record (key, value, headers) to its origin topic again, or to
`--to`. A command replayed to the commands topic is validated again; an item whose guid was
answered `PROCESSING_FAILED` keeps that answer when replayed (a re-sent item always gets the
answer it first got), so such an item is sent again by the organiser under a new guid. Dead
letters of the relay name the event store as their origin and are not replayed to Kafka.
"""

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Annotated

import typer
from aiokafka import TopicPartition
from tqdm import tqdm

from services import bootstrap
from services.adapters.dead_letters import DeadLetter
from services.adapters.kafka import partitions_of, send_reliably
from services.settings import Settings

commands = typer.Typer(help="Dead letters: records the services could not handle.",
                       no_args_is_help=True)


@dataclass(frozen=True)
class Stored:
    """A dead letter and its place in the dead-letter topic."""

    partition: int
    offset: int
    letter: DeadLetter
    erased: bool = False
    """Sealed for a customer since erased: its value and error can no longer be read."""

    @property
    def name(self) -> str:
        return f"{self.partition}:{self.offset}"


async def read_all(settings: Settings) -> list[Stored]:
    """Every dead letter in the topic now, oldest first per partition."""
    partitions = await partitions_of(settings, settings.dead_letter_topic)
    if not partitions:
        return []
    assigned = [TopicPartition(settings.dead_letter_topic, p) for p in partitions]
    consumer = bootstrap.kafka_reader(settings)
    await consumer.start()
    try:
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        for tp, offset in (await consumer.beginning_offsets(assigned)).items():
            consumer.seek(tp, offset)
        found: list[Stored] = []
        unread = {tp for tp in assigned if ends[tp] > 0}
        while unread:
            batches = await consumer.getmany(*unread, timeout_ms=1000)
            for tp, records in batches.items():
                found += [Stored(tp.partition, r.offset,
                                 DeadLetter.of(r.key, r.value, list(r.headers or ())))
                          for r in records if r.offset < ends[tp]]
            unread = {tp for tp in unread if await consumer.position(tp) < ends[tp]}
        return found
    finally:
        await consumer.stop()


def opened(settings: Settings, found: list[Stored]) -> list[Stored]:
    """The letters with those sealed for a customer opened with the customer's data key (or
    marked erased)."""
    if not any(stored.letter.sealed_for for stored in found):
        return found
    from services.adapters.personal_data import (
        KeyRing,
        MasterKeys,
        PostgresKeys,
        opened_letter,
    )

    keys = PostgresKeys(settings.postgres_dsn)
    keyring = KeyRing(keys, MasterKeys(settings.master_keys()))
    try:
        result = []
        for stored in found:
            letter = opened_letter(stored.letter, keyring)
            result.append(Stored(stored.partition, stored.offset, letter or stored.letter,
                                 erased=letter is None))
        return result
    finally:
        keys.close()


def chosen(found: list[Stored], names: list[str], service: str | None) -> list[Stored]:
    wanted = set(names)
    return [stored for stored in found
            if (not wanted or stored.name in wanted)
            and (service is None or stored.letter.service == service)]


@commands.command("list")
def list_letters(
    service: Annotated[str | None, typer.Option(help="Only those of this service.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the dead letters: where each came from, which service gave up and why."""
    settings = Settings()
    for stored in chosen(opened(settings, asyncio.run(read_all(settings))), [], service):
        letter = stored.letter
        error = "(its customer was erased)" if stored.erased else letter.error
        if as_json:
            print(json.dumps({
                "deadLetter": stored.name, "origin": str(letter.origin),
                "service": letter.service, "error": error, "attempts": letter.attempts,
                "at": letter.at.isoformat(), "bytes": original_bytes(letter),
                "truncated": letter.truncated,
                "sha256": letter.extra.get("value-sha256"), "erased": stored.erased}))
        else:
            size = "tombstone" if letter.origin.value is None else f"{original_bytes(letter)} B"
            size += " (truncated)" if letter.truncated else ""
            print(f"{stored.name:>10}  {letter.at:%Y-%m-%d %H:%M:%S}  {letter.service:<9}  "
                  f"{letter.origin!s:<40}  {size:>10}  {error}")


@commands.command()
def replay(
    names: Annotated[list[str] | None, typer.Argument(
        metavar="[PARTITION:OFFSET]...",
        help="The dead letters to replay (as `list` names them); all when none is given.")
    ] = None,
    service: Annotated[str | None, typer.Option(help="Only those of this service.")] = None,
    to: Annotated[str | None, typer.Option(help="Produce to this topic instead.")] = None,
) -> None:
    """Produce dead letters' original records again to their origin topic (or --to)."""
    settings = Settings()
    found = chosen(opened(settings, asyncio.run(read_all(settings))), names or [], service)
    if names and len(found) < len(set(names)):
        known = {stored.name for stored in found}
        raise typer.BadParameter(f"no such dead letter: {', '.join(sorted(set(names) - known))}")
    replayed = asyncio.run(produce_again(settings, found, to))
    print(f"{replayed} of {len(found)} dead letters replayed", file=sys.stderr)


def original_bytes(letter: DeadLetter) -> int | None:
    """The size of the original value (that of a truncated letter's original, too)."""
    if letter.origin.value is None:
        return None
    return int(letter.extra.get("value-bytes") or len(letter.origin.value))


async def produce_again(settings: Settings, found: list[Stored], to: str | None) -> int:
    sending = bootstrap.kafka_producer(settings)
    await sending.start()
    replayed = 0
    try:
        for stored in tqdm(found, desc="replay", unit="record", disable=len(found) < 100):
            origin = stored.letter.origin
            if to is None and origin.topic.startswith("event-store:"):
                print(f"{stored.name}: from the event store, not replayed", file=sys.stderr)
                continue
            if stored.erased:
                print(f"{stored.name}: its customer was erased; it can no longer be read. "
                      "Not replayed", file=sys.stderr)
                continue
            if stored.letter.truncated:
                print(f"{stored.name}: only the beginning of the original is kept (it was "
                      f"{original_bytes(stored.letter)} B); fetch it from {origin} while the "
                      "topic keeps it. Not replayed", file=sys.stderr)
                continue
            await send_reliably(sending, to or origin.topic, origin.value, key=origin.key,
                                headers=origin.headers)
            replayed += 1
    finally:
        await sending.stop()
    return replayed
