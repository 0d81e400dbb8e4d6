"""The Kafka headers of the topics' records: what a command may carry, what a stage-1 result
carries, and what a dead letter adds to the record it keeps.

Header values are bytes on the wire; each of these is UTF-8 text, so a record's headers are
described (and checked, `record_headers`) as a JSON object of strings, by header name. A
record may carry other headers too: a dead letter keeps the original record's.
"""

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.contract.topics import (
    COMMAND_ID_HEADER,
    ENVELOPE_HEADER,
    PROGRAMME_HEADER,
    PROGRAMME_PATTERN,
)

DEAD_LETTER_PREFIX = "loyalty.dlq."
"""The prefix of the headers a dead letter adds (`services.adapters.dead_letters` writes them)."""

Digits = Annotated[str, StringConstraints(pattern=r"^-?[0-9]+$")]
Programme = Annotated[str, StringConstraints(pattern=PROGRAMME_PATTERN)]


class Headers(BaseModel):
    """Headers as a JSON object, by name; other headers than these are allowed."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")


class CommandHeaders(Headers):
    """The optional headers of a command on the commands topic."""

    programme: Programme | None = Field(
        None, alias=PROGRAMME_HEADER, examples=["default"],
        description="The programme of the command (default `default`); on a programme's own "
                    "topic, that programme or nothing. Malformed or not served: the whole "
                    "command fails with INVALID_PROGRAMME.")
    command_id: str | None = Field(
        None, alias=COMMAND_ID_HEADER, examples=["c-1"],
        description="The command's id, echoed in its results; when absent, derived from the "
                    "record's topic, partition and offset.")


class ResultHeaders(Headers):
    """The headers of a stage-1 result (a stage-2 result has none)."""

    programme: Programme | None = Field(
        None, alias=PROGRAMME_HEADER, examples=["default"],
        description="The command's programme; absent when the command named none that is "
                    "well-formed (it then failed with INVALID_PROGRAMME).")


class ItemHeaders(Headers):
    """The headers of a record of the items topic."""

    envelope: Annotated[str, StringConstraints(pattern="^2$")] | None = Field(
        None, alias=ENVELOPE_HEADER, examples=["2"],
        description="`2`: the value is a `WorkItems` envelope (version 2), the items of one "
                    "command that belong to the record's partition; absent: the value is a "
                    "single `WorkItem` (version 1).")


def _dead_letter_header(name: str) -> str:
    return DEAD_LETTER_PREFIX + name.replace("_", "-")


def _only_declared(schema: dict[str, Any]) -> None:
    """A header with the dead letters' prefix must be one of theirs: a header added without
    a line here fails the schema."""
    schema["propertyNames"] = {"anyOf": [{"not": {"pattern": r"^loyalty\.dlq\."}},
                                         {"enum": list(schema["properties"])}]}


class DeadLetterHeaders(Headers):
    """The headers a dead letter adds to the original record's key, value and headers, which
    it keeps: where the record came from, which service gave up on it and why. A letter whose
    original would not fit in a record keeps its beginning and says so (`truncated`, sizes and
    digests)."""

    model_config = ConfigDict(alias_generator=_dead_letter_header,
                              json_schema_extra=_only_declared)

    topic: str = Field(description="The topic the record was read from (for an event the "
                                   "relay could not decode: `event-store:<name>`).",
                       examples=["loyalty.items"])
    partition: Digits = Field(description="Its partition.", examples=["3"])
    offset: Digits = Field(description="Its offset (for an event: its notification id).",
                           examples=["1017"])
    timestamp: Digits | Annotated[str, StringConstraints(max_length=0)] = Field(
        description="Its timestamp, milliseconds since the epoch; empty when unknown.",
        examples=["1767225600000"])
    service: str = Field(description="The service that gave up on it: intake, processor or "
                                     "relay.", examples=["processor"])
    error: str = Field(max_length=1000, description="The last error, `Type: message`.",
                       examples=["ValidationError: accrual"])
    attempts: Digits = Field(description="How often it was tried.", examples=["3"])
    at: str = Field(json_schema_extra={"format": "date-time"}, examples=[
        "2026-03-02T09:15:00.120000+00:00"], description="When it was given up (ISO 8601).")
    truncated: str | None = Field(None, pattern="^true$", examples=["true"],
                                  description="`true` when the letter keeps only the "
                                              "beginning of the original; absent otherwise.")
    key_bytes: Digits | None = Field(None, examples=["20"],
                                     description="Truncated: the original key's size.")
    key_sha256: str | None = Field(None, pattern="^[0-9a-f]{64}$", examples=["0" * 64],
                                   description="Truncated: the original key's SHA-256, hex.")
    value_bytes: Digits | None = Field(None, examples=["2097152"],
                                       description="Truncated: the original value's size.")
    value_sha256: str | None = Field(None, pattern="^[0-9a-f]{64}$", examples=["0" * 64],
                                     description="Truncated: the original value's SHA-256.")
    headers_bytes: Digits | None = Field(None, examples=["42"],
                                         description="Truncated: the original headers' size.")
    headers_sha256: str | None = Field(None, pattern="^[0-9a-f]{64}$", examples=["0" * 64],
                                       description="Truncated: the original headers' SHA-256.")
    sealed_for: str | None = Field(
        None, pattern="^[0-9a-f-]{36}$", examples=["8eaa3137-8d03-5e42-8342-6b074b80575e"],
        description="Present when the value and the error are sealed with this customer's "
                    "data key (an item of a known customer): erasing the customer makes them "
                    "unreadable (docs/privacy.md).")


def headers_schema(model: type[Headers]) -> dict[str, Any]:
    """The JSON Schema of one set of headers, as a JSON object of strings by header name: an
    optional header is absent, never null."""
    schema: dict[str, Any] = model.model_json_schema(by_alias=True)
    schema["properties"] = {name: _present(value)
                            for name, value in schema["properties"].items()}
    schema["additionalProperties"] = {"type": "string"}
    return schema


def _present(header: dict[str, Any]) -> dict[str, Any]:
    header = {key: value for key, value in header.items() if key not in ("title", "default")}
    options = [option for option in header.pop("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        return {**options[0], **header}
    return {**({"anyOf": options} if options else {}), **header}


def record_headers(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    """A record's headers as the schemas describe them: by name, values as text (the last of
    a repeated name)."""
    return {name: (value or b"").decode(errors="replace") for name, value in headers}
