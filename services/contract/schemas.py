"""JSON Schemas of the commands organisers send, made from the declarations and the models that
check them (`services.contract.items`): the gateway's request schema and the published ones
come from here, so they cannot drift from what stage 1 accepts.

An item's schema describes every field it may carry; a few rules are not in it and stage 1
still applies them: an AddBonus item's accrual fields are required only when `amount` > 0, and
its message fields are read only by addCustomerPointMessage.
"""

import dataclasses
from typing import Any

from services.contract.declarations import DECLARATIONS, Declaration
from services.contract.items import item_model, wired_fields
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
