"""The dead-letter topic: records a service could not handle, kept for an operator.

A dead letter is the original record, unchanged (its key, its value, its headers: a tombstone
stays a tombstone), with headers of its own that say where it came from and why it is here, in
the manner of Kafka Connect's dead-letter queues:

    loyalty.dlq.topic, .partition, .offset, .timestamp   the origin
    loyalty.dlq.service                                  the service that gave up
    loyalty.dlq.error                                    the error, "Type: message"
    loyalty.dlq.attempts, .at                            how often it was tried, and when

`loyalty deadletter list` shows them; `loyalty deadletter replay` produces the original record
again to its origin topic.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Headers = list[tuple[str, bytes]]
PREFIX = "loyalty.dlq."


@dataclass(frozen=True)
class Origin:
    """Where a record came from, and the record itself."""

    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    value: bytes | None = None
    headers: Headers = field(default_factory=list)
    timestamp: int | None = None
    """The record's timestamp (ms since the epoch), as the broker gave it."""

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @classmethod
    def of(cls, record: Any) -> "Origin":
        """The origin of an aiokafka ConsumerRecord (or anything with its attributes)."""
        return cls(topic=record.topic, partition=record.partition, offset=record.offset,
                   key=record.key, value=record.value, headers=list(record.headers or ()),
                   timestamp=record.timestamp)


@dataclass(frozen=True)
class DeadLetter:
    """A record that a service gave up on, and why."""

    origin: Origin
    service: str
    error: str
    attempts: int = 1
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def key(self) -> bytes | None:
        """The key to produce the letter with: the original one, or an empty one for a record
        with neither key nor value (a keyless tombstone, or a record that could not be read at
        all), which Kafka clients refuse to send. `of` reads it back as no key."""
        if self.origin.key is None and self.origin.value is None:
            return b""
        return self.origin.key

    def headers(self) -> Headers:
        """The original headers, then the dead letter's own."""
        own = {
            "topic": self.origin.topic, "partition": str(self.origin.partition),
            "offset": str(self.origin.offset),
            "timestamp": "" if self.origin.timestamp is None else str(self.origin.timestamp),
            "service": self.service, "error": self.error, "attempts": str(self.attempts),
            "at": self.at.isoformat(),
        }
        return [*self.origin.headers, *((PREFIX + name, value.encode())
                                        for name, value in own.items())]

    @classmethod
    def of(cls, key: bytes | None, value: bytes | None, headers: Headers) -> "DeadLetter":
        """The dead letter a record of the dead-letter topic carries; ValueError if none."""
        own = {name[len(PREFIX):]: raw.decode(errors="replace")
               for name, raw in headers if name.startswith(PREFIX)}
        try:
            origin = Origin(
                topic=own["topic"], partition=int(own["partition"]), offset=int(own["offset"]),
                key=None if key == b"" and value is None else key, value=value,
                headers=[(name, raw) for name, raw in headers if not name.startswith(PREFIX)],
                timestamp=int(own["timestamp"]) if own.get("timestamp") else None)
            return cls(origin, service=own["service"], error=own["error"],
                       attempts=int(own.get("attempts", "1")),
                       at=datetime.fromisoformat(own["at"]))
        except (KeyError, ValueError) as error:
            raise ValueError(f"not a dead letter: {error!r}") from error


def describe(error: BaseException) -> str:
    """An error as a dead letter records it: its type and message, briefly."""
    return f"{type(error).__name__}: {error}"[:1000]
