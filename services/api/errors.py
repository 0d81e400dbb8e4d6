"""JSON error bodies: `{"error": {"code", "message"}}` for every 4xx and 5xx answer."""

from typing import Any

import structlog
from eventsourcing import persistence
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from pydantic import BaseModel
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
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


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
