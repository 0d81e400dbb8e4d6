"""Intake's producing: records out, retried until the broker acknowledged them or gave up."""

import asyncio
from collections.abc import Awaitable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import faust
import structlog

from services.adapters.dead_letters import DeadLetter
from services.adapters.kafka import backoff, is_transient
from services.adapters.metrics import ServiceMetrics
from services.settings import Settings

log = structlog.get_logger(__name__)

Tag = TypeVar("Tag", bound=Hashable)


@dataclass(frozen=True)
class Record:
    """One record to produce."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=tuple)


class Publisher:
    """Produces through the faust application's producer and awaits the broker's acks."""

    attempts = 3
    """Tries of a record whose failure is not transient, before its command is given up."""

    def __init__(self, intake: faust.App, settings: Settings, metrics: ServiceMetrics) -> None:
        self.intake = intake
        self.settings = settings
        self.metrics = metrics

    async def publish(self, tagged: list[tuple[Tag, Record]]) -> dict[Tag, BaseException]:
        """Produces every record; a transient failure is retried for as long as it lasts,
        another up to `attempts` times. Returns the tags whose records were not published."""
        given_up: dict[Tag, BaseException] = {}
        tries: dict[Tag, int] = {}
        pending = tagged
        for attempt in range(1_000_000_000):
            outcomes = await self._send_all([record for _, record in pending])
            retry: list[tuple[Tag, Record]] = []
            for (tag, record), outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome, asyncio.CancelledError):
                    raise outcome
                if not isinstance(outcome, BaseException) or tag in given_up:
                    continue
                self.metrics.error("produce")
                tries[tag] = tries.get(tag, 0) + (0 if is_transient(outcome) else 1)
                if tries[tag] >= self.attempts:
                    given_up[tag] = outcome
                else:
                    retry.append((tag, record))
            pending = [(tag, record) for tag, record in retry if tag not in given_up]
            if not pending:
                break
            wait = backoff(attempt)
            log.warning("records not acknowledged; retrying", records=len(pending),
                        error=repr(outcomes[0]), retry_seconds=round(wait, 2))
            await asyncio.sleep(wait)
        return given_up

    async def publish_dead_letter(self, letter: DeadLetter) -> None:
        """Produces a dead letter; raises when even that fails for a reason that lasts."""
        record = Record(self.settings.dead_letter_topic, letter.origin.key, letter.origin.value,
                        letter.headers())
        failed = await self.publish([(0, record)])
        if failed:
            raise RuntimeError(f"dead letter of {letter.origin} not published") from failed[0]

    async def _send_all(self, records: list[Record]) -> list[object]:
        """Hands the records to the producer one after the other, then awaits every ack.

        One at a time: the producer's accumulator makes a sender that finds the batch full wait
        for it to drain, and ten thousand concurrent senders would each wake on every drain."""
        acks: list[Awaitable[object] | BaseException] = []
        for record in records:
            try:
                acks.append(await self.intake.producer.send(
                    record.topic, record.key, record.value, None, None, list(record.headers)))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                acks.append(error)
        return await asyncio.gather(*(_outcome(ack) for ack in acks), return_exceptions=True)


async def _outcome(ack: Awaitable[object] | BaseException) -> object:
    if isinstance(ack, BaseException):
        raise ack
    return await ack
