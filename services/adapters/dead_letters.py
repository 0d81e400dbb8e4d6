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

A dead letter always fits in a record (`DeadLetter.record`): when the original and the letter's
headers would pass `MAX_LETTER_BYTES`, the letter keeps the first 64 KiB of the value (and of
the original headers, the first 1 KiB of the key), and says so: `loyalty.dlq.truncated`, the
original's size and SHA-256 digest (`loyalty.dlq.value-bytes`, `.value-sha256`, and the same
for the key and the headers). The original's coordinates (topic, partition, offset) say where
to fetch it while its topic keeps it; such a letter is not replayed.

A letter about a known customer's item is sealed with that customer's data key
(`services.adapters.personal_data`): its value and its error are tokens, and
`loyalty.dlq.sealed-for` names the customer. Erasing the customer makes them unreadable, as it
does its events (`services.adapters.personal_data.sealed_letter`); `loyalty deadletter list |
replay` open the others.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.adapters.kafka import MAX_RECORD_BYTES, Record

Headers = list[tuple[str, bytes]]
PREFIX = "loyalty.dlq."
MAX_LETTER_BYTES = MAX_RECORD_BYTES - 64 * 1024
"""A dead letter's key, value and headers together: below the record limit, with room for
the record's own framing."""
KEPT_BYTES = 64 * 1024
"""What a truncated letter keeps of the original's value and headers."""
KEPT_KEY_BYTES = 1024


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
    extra: dict[str, str] = field(default_factory=dict)
    """The letter's other headers as read back (`truncated`, sizes, digests)."""
    sealed_for: str | None = None
    """The customer whose data key seals the value and the error (None: not sealed)."""

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
        return [*self.origin.headers, *_prefixed(self._own())]

    def _own(self) -> dict[str, str]:
        return {
            "topic": self.origin.topic, "partition": str(self.origin.partition),
            "offset": str(self.origin.offset),
            "timestamp": "" if self.origin.timestamp is None else str(self.origin.timestamp),
            "service": self.service, "error": self.error, "attempts": str(self.attempts),
            "at": self.at.isoformat(),
        } | ({} if self.sealed_for is None else {"sealed-for": self.sealed_for})

    def record(self, topic: str, limit: int = MAX_LETTER_BYTES) -> Record:
        """The record that carries the letter to `topic`: the original as it was when it fits
        within `limit` bytes, else its beginnings with the size and digest of each part."""
        key, value, original = self.key, self.origin.value, self.origin.headers
        if _size(key) + _size(value) + _headers_size(self.headers()) <= limit:
            return Record(topic, key, value, self.headers())
        own = self._own() | {"truncated": "true"}
        for part, data in (("key", key), ("value", value),
                           ("headers", b"".join(name.encode() + raw for name, raw in original))):
            if data is not None:
                own[f"{part}-bytes"] = str(len(data))
                own[f"{part}-sha256"] = hashlib.sha256(data).hexdigest()
        kept_headers = original if _headers_size(original) <= KEPT_BYTES else []
        kept_key = key if key is None or len(key) <= KEPT_KEY_BYTES else key[:KEPT_KEY_BYTES]
        kept_value = value if value is None else value[:KEPT_BYTES]
        return Record(topic, kept_key, kept_value, [*kept_headers, *_prefixed(own)])

    @property
    def truncated(self) -> bool:
        """Whether the letter holds only the beginning of the original."""
        return self.extra.get("truncated") == "true"

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
            known = {"topic", "partition", "offset", "timestamp", "service", "error", "attempts",
                     "at", "sealed-for"}
            return cls(origin, service=own["service"], error=own["error"],
                       attempts=int(own.get("attempts", "1")),
                       at=datetime.fromisoformat(own["at"]),
                       extra={name: value for name, value in own.items() if name not in known},
                       sealed_for=own.get("sealed-for"))
        except (KeyError, ValueError) as error:
            raise ValueError(f"not a dead letter: {error!r}") from error


def _prefixed(own: dict[str, str]) -> Headers:
    return [(PREFIX + name, value.encode()) for name, value in own.items()]


def _size(data: bytes | None) -> int:
    return 0 if data is None else len(data)


def _headers_size(headers: Headers) -> int:
    return sum(len(name.encode()) + len(raw or b"") for name, raw in headers)


def describe(error: BaseException) -> str:
    """An error as a dead letter records it: its type and message, briefly."""
    return f"{type(error).__name__}: {error}"[:1000]
