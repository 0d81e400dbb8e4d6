"""The machine-readable contracts of the topics, public (no key): `GET /contracts/asyncapi.json`
and `GET /contracts/<name>.schema.json`, the documents of docs/contracts/
(`services.contract.publish`), made for this service's limits of stage 1. The AsyncAPI
document refers to the schemas by their names, so it resolves beside them here as on disk.
"""

from fastapi import APIRouter
from fastapi.responses import Response

from services.contract.publish import MAKERS, contract, rendered
from services.contract.validation import ValidationRules

PREFIX = "/contracts"
JSON_OBJECT = {"description": "The document.",
               "content": {"application/json": {"schema": {"type": "object"}}}}


def contracts_router(rules: ValidationRules) -> APIRouter:
    """A `GET` of each published document, made for these rules."""
    router = APIRouter(prefix=PREFIX, tags=["contracts"])
    for name in MAKERS:
        _serve(router, name, rules)
    return router


def _serve(router: APIRouter, name: str, rules: ValidationRules) -> None:
    document = contract(name, rules)
    title = document.get("title") or document["info"]["title"]
    body = rendered(document).encode()

    async def get_contract() -> Response:
        return Response(body, media_type="application/json")

    router.add_api_route(
        f"/{name}", get_contract, methods=["GET"], name=f"contract:{name}",
        operation_id=f"get_contract_{name.split('.')[0].replace('-', '_')}",
        summary=f"{title} ({name})", response_class=Response, responses={200: JSON_OBJECT},
        description="A machine-readable contract of the Kafka topics (docs/contracts/); public, "
                    "no key needed.")
