"""Stage-2 results of one item: what the book records in the item's outcome and returns."""

from typing import NamedTuple
from uuid import UUID

from events.commands import CommandType, WorkItem
from events.errors import ErrorCode
from events.results import ItemError, ProcessingResult, ShownMessage
from services.customers.domain import Customer

ERRORS: dict[ErrorCode, ItemError] = {
    error.code: error
    for error in (
        ItemError(
            code=ErrorCode.CUSTOMER_BLOCKED, message="The customer is blocked", field="uniqId"
        ),
        ItemError(
            code=ErrorCode.CUSTOMER_NOT_FOUND, message="No customer has this uniqId", field="uniqId"
        ),
        ItemError(
            code=ErrorCode.PHONE_BELONGS_TO_ANOTHER_CUSTOMER,
            message="The phone number belongs to another customer",
            field="phone",
        ),
        ItemError(
            code=ErrorCode.DUPLICATE_GUID,
            message="The guid was already used for an item with other content",
            field="guid",
        ),
    )
}
"""The error of each stage-2 error code: code, message, field."""


class Handled(NamedTuple):
    """What a use case did with one item: the customer acted on (if any) and the result."""

    customer_id: UUID | None
    result: ProcessingResult


def succeeded(
    item: WorkItem, customer: Customer, messages: list[ShownMessage] | None = None
) -> Handled:
    """The item was applied to `customer`; the result's login is the customer's uniqId."""
    return Handled(customer.id, _result(item, customer.uniq_id, None, messages))


def rejected(item: WorkItem, customer: Customer | None, code: ErrorCode) -> Handled:
    """A business rule refused the item; nothing changed."""
    login = item.uniq_id if customer is None else customer.uniq_id
    customer_id = None if customer is None else customer.id
    return Handled(customer_id, _result(item, login, code, None))


def duplicate_guid(item: WorkItem) -> ProcessingResult:
    """The result for an item whose guid was already used with other content."""
    return _result(item, item.uniq_id, ErrorCode.DUPLICATE_GUID, None)


def _result(
    item: WorkItem, login: str, code: ErrorCode | None, messages: list[ShownMessage] | None
) -> ProcessingResult:
    if messages is None and item.type_of_command is CommandType.AUTHORIZE_CUSTOMER:
        messages = []
    return ProcessingResult(
        command_id=item.command_id,
        type_of_command=item.type_of_command.value,
        login=login,
        guid=item.guid,
        status="Success" if code is None else "Error",
        error=None if code is None else ERRORS[code],
        messages=messages,
    )
