"""The published contracts (docs/contracts/, events/schemas/) as checks of real messages: each
function answers what is wrong with one message (nothing: an empty list).

Formats are checked too (date-time, uuid, ...). A test that puts a record of its own on a
service's topic marks it with the header `PLANTED`, and the checks of a whole topic skip it.
"""

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from services.contract.headers import record_headers

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "docs" / "contracts"
EVENT_SCHEMAS = ROOT / "events" / "schemas"
PLANTED = "test.planted"
"""The header of a record a test produced to a topic that only the service writes."""


@cache
def validator(path: Path, definition: str | None = None) -> Any:
    """A validator of the schema in `path` (of one of its `$defs`)."""
    schema = json.loads(path.read_text())
    if definition is not None:
        schema = {"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def problems(path: Path, instance: Any, definition: str | None = None) -> list[str]:
    """What is wrong with `instance` by the schema of `path`."""
    return [str(error) for error in validator(path, definition).iter_errors(instance)]


def result_problems(result: Any) -> list[str]:
    """A value of the results topic: a stage-1 or stage-2 result."""
    return problems(CONTRACTS / "results.schema.json", result)


def result_header_problems(result: Any, headers: Iterable[tuple[str, bytes]]) -> list[str]:
    """A stage-1 result's headers (a stage-2 result has none of the contract's)."""
    if isinstance(result, dict) and result.get("stage") == "validation":
        return problems(CONTRACTS / "headers.schema.json", record_headers(headers),
                        "ResultHeaders")
    return []


def work_item_problems(item: Any) -> list[str]:
    """A value of the items topic."""
    return problems(CONTRACTS / "work-item.schema.json", item)


def event_problems(event: Any) -> list[str]:
    """A value of the events topic, by the schema of its type in events/schemas/."""
    kind = event.get("type") if isinstance(event, dict) else None
    path = EVENT_SCHEMAS / f"{kind}.json"
    if not isinstance(kind, str) or not path.is_file():
        return [f"no published event type {kind!r}"]
    return problems(path, event)


def dead_letter_problems(headers: Iterable[tuple[str, bytes]]) -> list[str]:
    """The headers of a record of the dead-letter topic."""
    return problems(CONTRACTS / "headers.schema.json", record_headers(headers),
                    "DeadLetterHeaders")


def planted(headers: Iterable[tuple[str, bytes]] | None) -> bool:
    """Whether a test put the record there itself (the header `PLANTED`)."""
    return any(name == PLANTED for name, _ in headers or ())
