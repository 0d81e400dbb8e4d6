"""The HTTP command gateway: `POST /v1/commands` takes the same JSON as the commands topic.

The caller's API key names the programme. The body is read up to `max_command_bytes` and no
further, checked with stage 1's own pure function, produced to the commands topic (headers
`programme` and a fresh `commandId`) and answered once the broker acknowledged it, in exactly
the source API's shape: `{"results": [{"login", "guid", "status", "error"}]}`. Intake then
validates the same bytes again with the same function, so its result is the identical one.

A command rejected as a whole (`{"results": [], "error": {"code", "message"}}`, HTTP 400, or
413 above the size limit) is not produced: nothing of it would be processed. When Kafka does not
acknowledge the command in time the answer is a 503 that says it may still be applied, and
that sending it again is harmless (items are idempotent by guid).
"""

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.api.auth import Programme
from services.api.bodies import read_capped
from services.api.command_schema import COMMAND_ID, STAGE1_ANSWER, request_body
from services.api.errors import described, error_response
from services.api.pipeline import PipelineUnavailableError, UnacknowledgedError, Upstream
from services.contract.errors import ErrorCode
from services.contract.results import CommandError, ValidationResult
from services.contract.validation import ValidationRules, validate_command
from services.settings import Settings

COMMAND_ID_HEADER = "X-Command-Id"
"""Response header: the commandId under which the command's results are published."""


def stage1_answer(result: ValidationResult) -> dict[str, Any]:
    """The source API's response: the per-item results, or the whole command's error."""
    if result.error is not None:
        return {"results": [], "error": result.error.model_dump(mode="json", by_alias=True)}
    return {"results": [status.model_dump(mode="json", by_alias=True)
                        for status in result.results]}


def not_confirmed(error: PipelineUnavailableError) -> str:
    """What a 503 says when Kafka did not confirm the command: whether it may still be
    applied, and that sending it again is safe."""
    if isinstance(error, UnacknowledgedError):
        return (f"{error}: the command may still be applied (its results would carry the "
                "commandId of the X-Command-Id header). Sending it again is harmless: an item "
                "is applied once per guid, and a repeat is answered with the stored outcome")
    return f"{error}: the command was not sent; send it again"


def too_large(limit: int) -> JSONResponse:
    """The answer to a body above the limit: 413, PAYLOAD_TOO_LARGE."""
    error = CommandError(code=ErrorCode.PAYLOAD_TOO_LARGE,
                         message=f"the command is larger than {limit} bytes")
    return JSONResponse({"results": [], "error": error.model_dump(mode="json")}, 413)


def gateway_router(settings: Settings, rules: ValidationRules) -> APIRouter:
    """`POST /v1/commands`, with the application's one Kafka producer."""
    limit = settings.max_command_bytes
    router = APIRouter(prefix="/v1", tags=["commands"])
    responses = {**STAGE1_ANSWER, **described(401, 403),
                 503: {**described(503)[503], "headers": COMMAND_ID}}

    @router.post("/commands", responses=responses,
                 openapi_extra={"requestBody": request_body(rules)})
    async def post_command(programme: Programme, pipeline: Upstream,
                           request: Request) -> JSONResponse:
        """Accepts one command of the family (the JSON of the commands topic) and answers with
        its stage-1 result once the command is durably stored in Kafka."""
        raw = await read_capped(request, limit)
        if raw is None:
            return too_large(limit)
        command_id = str(uuid.uuid4())
        validated = await asyncio.to_thread(
            validate_command, raw, command_id=command_id, programme=programme, rules=rules)
        answer = stage1_answer(validated.result)
        headers = {COMMAND_ID_HEADER: command_id}
        if validated.result.error is not None:
            status = 413 if validated.result.error.code is ErrorCode.PAYLOAD_TOO_LARGE else 400
            return JSONResponse(answer, status, headers=headers)
        try:
            await pipeline.send_command(raw, programme=programme, command_id=command_id)
        except PipelineUnavailableError as error:
            unavailable = error_response(503, not_confirmed(error))
            unavailable.headers.update(headers)
            return unavailable
        return JSONResponse(answer, headers=headers)

    return router
