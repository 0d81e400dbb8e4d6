"""A JSON Schema per event type, derived from the event class itself.

The schemas in `events/schemas/` are these functions' output, committed so that integrators can
read them without the code; a unit test fails when a class and its file disagree
(`python -m events.schema` writes them again).
"""

import dataclasses
import inspect
import json
import sys
import types
import typing
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from events.base import ENVELOPE
from events.published import camel

SCHEMAS = Path(__file__).parent / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
DECIMAL = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
           "description": "An exact decimal, as a string."}


def value_schema(annotation: Any) -> dict[str, Any]:
    """The JSON Schema of one attribute's type as `events.published.plain` writes it."""
    origin = get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        options = [value_schema(arg) for arg in get_args(annotation)]
        return {"anyOf": options}
    if origin is list:
        (item,) = get_args(annotation)
        return {"type": "array", "items": value_schema(item)}
    if typing.is_typeddict(annotation):
        return object_schema(annotation, get_type_hints(annotation))
    simple: dict[Any, dict[str, Any]] = {
        str: {"type": "string"}, int: {"type": "integer"}, bool: {"type": "boolean"},
        type(None): {"type": "null"}, Decimal: DECIMAL,
        datetime: {"type": "string", "format": "date-time"},
    }
    if annotation in simple:
        return dict(simple[annotation])
    raise TypeError(f"no JSON Schema for {annotation!r}")


def object_schema(owner: Any, hints: dict[str, Any],
                  personal: typing.Collection[str] = ()) -> dict[str, Any]:
    """An object with exactly these attributes, every one required (null where optional)
    except the `personal` ones, which `loyalty.events` leaves out unless configured to carry
    them (docs/privacy.md)."""
    properties = {camel(name): value_schema(hint) for name, hint in hints.items()}
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": [camel(name) for name in hints
                                           if name not in personal],
                              "additionalProperties": False}
    if owner.__doc__:
        schema["description"] = inspect.cleandoc(owner.__doc__)
    return schema


def data_hints(event_class: type) -> dict[str, Any]:
    """The event's own attributes and their types, in declaration order."""
    hints = get_type_hints(event_class)
    return {f.name: hints[f.name] for f in dataclasses.fields(event_class)
            if f.name not in ENVELOPE}


def event_schema(event_class: type) -> dict[str, Any]:
    """The schema of one published event of this type and version."""
    name, version = event_class.__name__, event_class.class_version  # type: ignore[attr-defined]
    text = {"type": "string"}
    return {
        "$schema": DIALECT,
        "$id": f"urn:loyalty:event:{name}:v{version}",
        "title": f"{name} v{version}",
        "type": "object",
        "required": ["specversion", "id", "type", "version", "source", "subject", "programme",
                     "time", "data"],
        "properties": {
            "specversion": {"const": "1.0"}, "id": text, "type": {"const": name},
            "version": {"const": version}, "source": text, "subject": text, "programme": text,
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "data": object_schema(event_class, data_hints(event_class),
                                  getattr(event_class, "personal", ())),
        },
    }


def schema_path(event_class: type) -> Path:
    return SCHEMAS / f"{event_class.__name__}.json"


def rendered(event_class: type) -> str:
    return json.dumps(event_schema(event_class), indent=2, ensure_ascii=False) + "\n"


def write_all(classes: typing.Iterable[type]) -> list[Path]:
    """Writes the schema file of every class; returns the paths written."""
    SCHEMAS.mkdir(exist_ok=True)
    written = []
    for event_class in classes:
        schema_path(event_class).write_text(rendered(event_class))
        written.append(schema_path(event_class))
    return written


if __name__ == "__main__":
    from events import PUBLISHED

    for path in write_all(PUBLISHED):
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path,
              file=sys.stdout)
