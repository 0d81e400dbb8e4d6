"""JSON error bodies: `{"error": {"code", "message"}}` for every 4xx and 5xx answer."""

from typing import Any

import structlog
from eventsourcing import persistence
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

log = structlog.get_logger(__name__)

CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    422: "VALIDATION_ERROR",
    503: "UNAVAILABLE",
}


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str = Field(description="The error's code: " + ", ".join(CODES.values()) + ".",
                      examples=["NOT_FOUND"])
    message: str = Field(description="What went wrong, for a person to read.",
                         examples=["no such customer"])
    details: list[dict[str, Any]] | None = Field(
        None, description="VALIDATION_ERROR: each part of the request at fault (`loc`) and "
                          "why (`msg`); absent otherwise.",
        examples=[[{"loc": ["body", "limit"], "msg": "Input should be less than or equal to "
                                                     "1000"}]])


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail = Field(description="The error: its code, message and details.",
                               examples=[{"code": "NOT_FOUND", "message": "no such customer"}])


def error_response(status: int, message: str, details: list[Any] | None = None) -> JSONResponse:
    """An error answer with the code of `status`."""
    code = CODES.get(status, "ERROR")
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status)


def described(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses."""
    return {status: {"model": ErrorBody, "description": CODES[status]} for status in statuses}


async def http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    response = error_response(error.status_code, str(error.detail))
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


async def validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = [
        {"loc": list(item.get("loc", ())), "msg": str(item.get("msg", ""))}
        for item in error.errors()
    ]
    return error_response(422, "the request is not valid", details)


async def database_error(_: Request, error: Exception) -> JSONResponse:
    log.warning("read models unavailable", error=str(error))
    return error_response(503, "the read models are unavailable, retry later")


def install_error_handlers(app: FastAPI) -> None:
    """Answers HTTP, validation and connection errors with a JSON error body."""
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    for unavailable in (OperationalError, PoolTimeout, persistence.OperationalError,
                        persistence.InterfaceError):
        app.add_exception_handler(unavailable, database_error)
