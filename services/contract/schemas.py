"""JSON Schemas of the commands organisers send, made from the declarations and the models that
check them (`services.contract.items`): the gateway's request schema and the published ones
come from here, so they cannot drift from what stage 1 accepts. The other messages of the
topics (work items, results, events, headers) have theirs from the models that make them;
`services.contract.publish` writes them all to docs/contracts/.

An item's schema describes every field it may carry; a few rules are not in it and stage 1
still applies them: an AddBonus item's accrual fields are required only when `amount` > 0, and
its message fields are read only by addCustomerPointMessage.
"""

import dataclasses
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from events import PUBLISHED
from events.schema import event_schema
from services.contract.commands import WorkItem, WorkItems
from services.contract.declarations import DECLARATIONS, Declaration
from services.contract.headers import (
    CommandHeaders,
    DeadLetterHeaders,
    ItemHeaders,
    ResultHeaders,
    headers_schema,
)
from services.contract.items import item_model, wired_fields
from services.contract.results import ProcessingResult, ValidationResult
from services.contract.rules import ValidationRules
from services.domain import commands as domain


def documented_fields(declaration: Declaration) -> tuple[Any, ...]:
    """The fields of an item as documented: an AddBonus item's conditional ones optional."""
    fields = wired_fields(declaration)
    if declaration.command is not domain.AddBonus:
        return fields
    return tuple(dataclasses.replace(one, optional=True) if one.part else one for one in fields)


def item_schema(declaration: Declaration) -> dict[str, Any]:
    """The JSON Schema of one item of this command type."""
    model = item_model(documented_fields(declaration),
                       f"{declaration.name[0].upper()}{declaration.name[1:]}Item")
    schema: dict[str, Any] = model.model_json_schema(by_alias=True)
    for field in schema["properties"].values():
        if "default" in field and field["default"] is None:
            del field["default"]  # absent and null are the same (and OpenAPI drops nulls)
    schema["description"] = declaration.description
    schema["additionalProperties"] = True
    return schema


def item_schemas() -> dict[str, dict[str, Any]]:
    """Every command type's item schema, by `typeOfCommand`."""
    return {name: item_schema(declaration) for name, declaration in DECLARATIONS.items()}


def command_schema(rules: ValidationRules) -> dict[str, Any]:
    """The JSON Schema of a command, one of the declared command types."""
    variants = []
    for name, declaration in DECLARATIONS.items():
        variants.append({
            "type": "object", "title": name, "description": declaration.description,
            "required": ["typeOfCommand", declaration.items_under],
            "additionalProperties": True,
            "properties": {
                "typeOfCommand": {"const": name},
                declaration.items_under: {"type": "array", "maxItems": rules.max_items,
                                          "items": item_schema(declaration)},
            },
        })
    return {"oneOf": variants,
            "description": "A command of the addCustomerPointMessage family: its type and its "
                           "items. A wrong item is answered with its own error (HTTP 200); "
                           "only what fails the command as a whole is a 4xx."}


DIALECT = "https://json-schema.org/draft/2020-12/schema"


def document(name: str, title: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A schema as a file of its own: its dialect, id and title first."""
    return {"$schema": DIALECT, "$id": f"urn:loyalty:contract:{name}", "title": title, **schema}


def commands_document(rules: ValidationRules) -> dict[str, Any]:
    """The commands topic's values (and `POST /v1/commands`' body): the gateway's request
    schema, as it is."""
    return document("commands", "Command", command_schema(rules))


def items_document() -> dict[str, Any]:
    """Every command type's item schema, under `$defs` by `typeOfCommand`."""
    return document("items", "Command items", {
        "description": "The items of each command type, by typeOfCommand (`$defs`).",
        "$defs": item_schemas()})


def work_item_document() -> dict[str, Any]:
    """The items topic's values: an envelope of validated items of one command (a record with
    the `envelope` header), or one validated item (a record without it)."""
    schema: dict[str, Any] = TypeAdapter(WorkItems | WorkItem).json_schema(by_alias=True)
    schema["description"] = (
        "A record of loyalty.items: a `WorkItems` envelope (version 2; the record carries the "
        "header `envelope: 2`), the items of one command that belong to the record's "
        "partition, in the command's order; or a single `WorkItem` (version 1, no `envelope` "
        "header), as the clock, the bonus window and earlier intakes produce.")
    return document("work-item", "WorkItem", schema)


Result = Annotated[ValidationResult | ProcessingResult, Field(discriminator="stage")]


def results_document() -> dict[str, Any]:
    """The results topic's values: a stage-1 or a stage-2 result, told apart by `stage`."""
    schema: dict[str, Any] = TypeAdapter(Result).json_schema(by_alias=True)
    schema["description"] = ("A stage-1 result (`stage: validation`, one per command, keyed by "
                             "commandId) or a stage-2 result (`stage: processing`, one per "
                             "accepted item, keyed by guid).")
    return document("results", "Result", schema)


def headers_document() -> dict[str, Any]:
    """The headers of commands, stage-1 results and dead letters, under `$defs`."""
    return document("headers", "Record headers", {
        "description": "Kafka headers as a JSON object of UTF-8 strings by header name.",
        "$defs": {model.__name__: headers_schema(model)
                  for model in (CommandHeaders, ResultHeaders, ItemHeaders,
                                      DeadLetterHeaders)}})


def events_document() -> dict[str, Any]:
    """The events topic's values: every published event type's schema (`events/schemas/`),
    under `$defs` by type."""
    return document("events", "Customer event", {
        "description": "A customer's domain event, CloudEvents JSON; `type` names its schema.",
        "oneOf": [{"$ref": f"#/$defs/{cls.__name__}"} for cls in PUBLISHED],
        "$defs": {cls.__name__: event_schema(cls) for cls in PUBLISHED}})
