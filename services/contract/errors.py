"""Error codes of stage-1 results; stage-2 results carry the domain's `Rejection` codes."""

from enum import StrEnum

from services.domain.answers import Rejection


class ErrorCode(StrEnum):
    """The error codes of stage 1: of a whole command, or of one item's format."""

    # the whole command
    INVALID_PROGRAMME = "INVALID_PROGRAMME"
    INVALID_JSON = "INVALID_JSON"
    UNKNOWN_COMMAND = "UNKNOWN_COMMAND"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    # one item, stage 1
    MISSING_FIELD = "MISSING_FIELD"
    INVALID_FORMAT = "INVALID_FORMAT"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_ENUM = "INVALID_ENUM"
    INVALID_DECIMAL = "INVALID_DECIMAL"


Code = ErrorCode | Rejection
"""An error code of a result: stage 1's (`ErrorCode`), or a stage-2 rejection (the domain's
`Rejection`: each code is listed once)."""
