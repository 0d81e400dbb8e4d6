"""The machine-readable contracts of the topics, as files: JSON Schemas made from the models
that validate and make each message, and the AsyncAPI document that ties them to the topics.

    python -m services.contract.publish     writes them to docs/contracts/

The files are committed, so integrators read them without the code; a unit test fails when one
is stale. The API serves the same documents, made with its own settings' limits, under
`/contracts/` (`services.api.contracts`). The events' schemas are also one file per type in
`events/schemas/` (`python -m events.schema`).
"""

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.contract import asyncapi as documents
from services.contract.rules import ValidationRules
from services.contract.schemas import (
    commands_document,
    events_document,
    headers_document,
    items_document,
    results_document,
    work_item_document,
)

FOLDER = Path(__file__).resolve().parents[2] / "docs" / "contracts"

Document = dict[str, Any]
MAKERS: dict[str, Callable[[ValidationRules], Document]] = {
    documents.ASYNCAPI_FILE: lambda _: documents.asyncapi(),
    documents.COMMANDS_FILE: commands_document,
    documents.ITEMS_FILE: lambda _: items_document(),
    documents.WORK_ITEM_FILE: lambda _: work_item_document(),
    documents.RESULTS_FILE: lambda _: results_document(),
    documents.EVENTS_FILE: lambda _: events_document(),
    documents.HEADERS_FILE: lambda _: headers_document(),
}
"""Every published document by file name, made for the limits of stage 1 (only the commands'
schema depends on them)."""


def contract(name: str, rules: ValidationRules | None = None) -> Document:
    """One document, for these limits (default: the defaults)."""
    return MAKERS[name](rules or ValidationRules())


def rendered(document: Document) -> str:
    """A document as its file holds it."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_all(folder: Path = FOLDER) -> list[Path]:
    """Writes every document with the default limits; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in MAKERS:
        path = folder / name
        path.write_text(rendered(contract(name)))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all():
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path,
              file=sys.stdout)
