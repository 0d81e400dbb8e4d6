"""Stage-1 validation of organisers' commands: what an organiser gets back for what they send."""

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services import bootstrap
from services.contract.commands import CommandType
from services.contract.errors import ErrorCode
from services.contract.fields import normalized_email
from services.contract.validation import Validated, ValidationRules, validate_command
from services.settings import Settings
from tests.support.seed import SEED_REQUEST

RULES = ValidationRules()
MSK = timezone(timedelta(hours=3))
GUID = "9803d32e-8fcd-4984-a736-9f02f726b3c0"



def validate(
    raw: bytes | str | dict[str, Any] | list[Any], rules: ValidationRules = RULES
) -> Validated:
    if isinstance(raw, dict | list):
        raw = json.dumps(raw)
    if isinstance(raw, str):
        raw = raw.encode()
    return validate_command(raw, command_id="cmd-1", programme="default", rules=rules)


def bonus(n: int = 0, **fields: Any) -> dict[str, Any]:
    """A valid AddBonus item with an accrual; `fields` override or add (None sends null)."""
    item = {
        "guid": f"00000000-0000-4000-8000-{n:012d}",
        "uniqId": f"customer-{n}",
        "phone": "+79161234567",
        "email": "ivan.petrov@example.ru",
        "amount": 10,
        "eventId": f"event-{n}",
        "eventDate": "2024-05-01T10:00:00+03:00",
        "eventType": "operation",
    }
    item.update(fields)
    return item


def without(item: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name not in names}


def add(*items: Any, command: str = "addCustomerPointMessage") -> dict[str, Any]:
    return {"typeOfCommand": command, "add": list(items)}


def customers(command: str, *items: Any) -> dict[str, Any]:
    return {"typeOfCommand": command, "customers": list(items)}


def single_error(validated: Validated) -> tuple[ErrorCode, str | None, str]:
    [status] = validated.result.results
    assert status.status == "Error"
    assert status.error is not None
    assert validated.items == []
    return status.error.code, status.error.field, status.error.message


def command_error(validated: Validated) -> ErrorCode:
    assert validated.result.results == []
    assert validated.items == []
    assert validated.result.error is not None
    return validated.result.error.code


# --- the source's example -------------------------------------------------------------------


def test_the_seed_request_is_accepted_with_exact_decimals_and_its_offsets() -> None:
    validated = validate(SEED_REQUEST)

    assert json.loads(validated.result.to_json()) == {
        "commandId": "cmd-1",
        "typeOfCommand": "addCustomerPointMessage",
        "stage": "validation",
        "results": [{"login": "12345678", "guid": GUID, "status": "Success", "error": None}],
        "error": None,
    }
    [item] = validated.items
    assert (item.command_id, item.programme, item.guid, item.uniq_id) == (
        "cmd-1",
        "default",
        GUID,
        "12345678",
    )
    assert item.type_of_command == CommandType.ADD_CUSTOMER_POINT_MESSAGE
    assert (item.phone, item.email) == (None, None)
    accrual = item.accrual
    assert accrual is not None
    assert accrual.amount == Decimal("200.00")
    assert str(accrual.amount) == "200.00"
    assert str(accrual.operation_amount) == "100.0000"
    assert accrual.event_date == datetime(2015, 1, 1, tzinfo=MSK)
    assert accrual.event_date.utcoffset() == timedelta(hours=3)
    assert (accrual.event_id, accrual.event_type, accrual.operation_type) == (
        "123456",
        "operation",
        "purchase",
    )
    assert (accrual.merchant_name, accrual.bank_product, accrual.mcc) == (
        "TZUM",
        "Gold card",
        "Petrol station",
    )
    assert accrual.info is None
    message = item.message
    assert message is not None
    assert (message.text, message.show_count) == ("Message for customer", 3)
    assert message.show_till == datetime(2019, 10, 23, 18, 25, 43, 511000, tzinfo=UTC)


def with_numbers(command: dict[str, Any], **numbers: str) -> str:
    """The command as JSON with the given fields written as these exact JSON numbers."""
    body = json.dumps(command)
    for field, number in numbers.items():
        body = body.replace(f'"{field}": "{number}"', f'"{field}": {number}')
    return body


def test_json_numbers_never_become_floats() -> None:
    command = add(bonus(amount="0.10", operationAmount="0.1234"))

    [item] = validate(with_numbers(command, amount="0.10", operationAmount="0.1234")).items

    assert item.accrual is not None
    assert str(item.accrual.amount) == "0.10"
    assert str(item.accrual.operation_amount) == "0.1234"


@pytest.mark.parametrize("number", ["0E-20000", "1e9999999999999999999", "1e-9999999999999999999",
                                    "1E+31", "0e-31", "1" + "0" * 30, "0." + "0" * 30])
@pytest.mark.parametrize("field", ["amount", "operationAmount"])
def test_a_number_past_the_bounds_is_refused_naming_the_field(field: str, number: str) -> None:
    """Numbers PostgreSQL cannot store (or that cost a lot to build) never pass stage 1."""
    command = add(bonus(**{field: number}))
    for body in (with_numbers(command, **{field: number}), json.dumps(command)):
        assert single_error(validate(body)) == (
            ErrorCode.INVALID_DECIMAL, field,
            f"{field} must have at most 30 digits and an exponent of at most 30")


@pytest.mark.parametrize("number", ["0E-30", "0E+30", "1" + "0" * 14, "0." + "0" * 28])
def test_a_number_at_the_bounds_is_read(number: str) -> None:
    command = add(bonus(amount=number))
    [item] = validate(with_numbers(command, amount=number)).items
    assert item.accrual is None or item.accrual.amount == Decimal(number)


def test_the_bounds_of_numbers_are_settings() -> None:
    rules = ValidationRules(max_decimal_digits=3, max_decimal_exponent=2)
    assert validate(add(bonus(amount="10.5")), rules).items
    assert single_error(validate(add(bonus(amount="10.55")), rules))[0] \
        is ErrorCode.INVALID_DECIMAL
    assert validate(add(bonus(amount="1E+2")), rules).items
    assert single_error(validate(add(bonus(amount="1E+3")), rules))[0] \
        is ErrorCode.INVALID_DECIMAL


def test_a_numeric_string_is_an_exact_amount() -> None:
    [item] = validate(add(bonus(amount="1500.50"))).items

    assert item.accrual is not None
    assert item.accrual.amount == Decimal("1500.50")


# --- per-item errors ------------------------------------------------------------------------

ITEM_ERRORS = [
    ("guid", None, ErrorCode.MISSING_FIELD),
    ("guid", "not-a-uuid", ErrorCode.INVALID_FORMAT),
    ("guid", 12345, ErrorCode.INVALID_FORMAT),
    ("uniqId", None, ErrorCode.MISSING_FIELD),
    ("uniqId", "", ErrorCode.INVALID_FORMAT),
    ("uniqId", "x" * 101, ErrorCode.INVALID_FORMAT),
    ("uniqId", 12345678, ErrorCode.INVALID_FORMAT),
    ("phone", "12345", ErrorCode.INVALID_PHONE),
    ("phone", "not a phone", ErrorCode.INVALID_PHONE),
    ("phone", 79161234567, ErrorCode.INVALID_PHONE),
    ("phone", "", ErrorCode.INVALID_PHONE),
    ("email", "not-an-email", ErrorCode.INVALID_EMAIL),
    ("email", "ivan@localhost", ErrorCode.INVALID_EMAIL),
    ("email", "ivan..petrov@example.ru", ErrorCode.INVALID_EMAIL),
    ("email", 42, ErrorCode.INVALID_EMAIL),
    ("amount", "", ErrorCode.INVALID_DECIMAL),
    ("amount", -1, ErrorCode.INVALID_DECIMAL),
    ("amount", "-0.01", ErrorCode.INVALID_DECIMAL),
    ("amount", 1.001, ErrorCode.INVALID_DECIMAL),
    ("amount", True, ErrorCode.INVALID_DECIMAL),
    ("amount", "ten", ErrorCode.INVALID_DECIMAL),
    ("amount", "NaN", ErrorCode.INVALID_DECIMAL),
    ("amount", "1e400", ErrorCode.INVALID_DECIMAL),
    ("amount", [10], ErrorCode.INVALID_DECIMAL),
    ("info", "x" * 1001, ErrorCode.INVALID_FORMAT),
    ("eventId", None, ErrorCode.MISSING_FIELD),
    ("eventId", "x" * 101, ErrorCode.INVALID_FORMAT),
    ("eventDate", None, ErrorCode.MISSING_FIELD),
    ("eventDate", "yesterday", ErrorCode.INVALID_FORMAT),
    ("eventDate", 1714546800, ErrorCode.INVALID_FORMAT),
    ("eventType", None, ErrorCode.MISSING_FIELD),
    ("eventType", "purchase", ErrorCode.INVALID_ENUM),
    ("eventType", "Operation", ErrorCode.INVALID_ENUM),
    ("operationType", "gift", ErrorCode.INVALID_ENUM),
    ("operationAmount", 1.00001, ErrorCode.INVALID_DECIMAL),
    ("operationAmount", -5, ErrorCode.INVALID_DECIMAL),
    ("operationAmount", "", ErrorCode.INVALID_DECIMAL),
    ("merchantName", "x" * 201, ErrorCode.INVALID_FORMAT),
    ("bankProduct", 7, ErrorCode.INVALID_FORMAT),
    ("mcc", "x" * 201, ErrorCode.INVALID_FORMAT),
    ("message", "x" * 2001, ErrorCode.INVALID_FORMAT),
    ("message", ["hello"], ErrorCode.INVALID_FORMAT),
    ("showCount", 0, ErrorCode.INVALID_FORMAT),
    ("showCount", 1001, ErrorCode.INVALID_FORMAT),
    ("showCount", 1.5, ErrorCode.INVALID_FORMAT),
    ("showCount", True, ErrorCode.INVALID_FORMAT),
    ("showCount", "3", ErrorCode.INVALID_FORMAT),
    ("showTill", "2030-01-01", ErrorCode.INVALID_FORMAT),
    ("showTill", "2030-13-01T00:00:00Z", ErrorCode.INVALID_FORMAT),
    ("uniqId", "customer\u0000", ErrorCode.INVALID_FORMAT),
    ("message", "hello\u0000", ErrorCode.INVALID_FORMAT),
    ("merchantName", "\u0000", ErrorCode.INVALID_FORMAT),
]


@pytest.mark.parametrize(("field", "value", "code"), ITEM_ERRORS)
def test_an_item_with_a_bad_field_gets_its_error_code_and_field(
    field: str, value: Any, code: ErrorCode
) -> None:
    item = without(bonus(), field) if value is None else bonus(**{field: value})

    got_code, got_field, message = single_error(validate(add(item)))

    assert (got_code, got_field) == (code, field)
    assert message.startswith(field + " ")


def test_a_failed_item_repeats_the_login_and_guid_it_was_sent_with() -> None:
    [status] = validate(add(bonus(7, phone="12345"))).result.results

    assert (status.login, status.guid) == ("customer-7", bonus(7)["guid"])


def test_a_failed_item_with_unusable_identifiers_repeats_none() -> None:
    [status] = validate(add(bonus(uniqId=5, guid=["x"]))).result.results

    assert (status.login, status.guid, status.status) == (None, None, "Error")


def test_null_counts_as_an_absent_obligatory_field() -> None:
    assert single_error(validate(add(bonus(uniqId=None))))[:2] == (
        ErrorCode.MISSING_FIELD,
        "uniqId",
    )


def test_a_date_time_without_an_offset_is_refused_with_the_reason() -> None:
    code, field, message = single_error(validate(add(bonus(eventDate="2015-01-01T00:00:00"))))

    assert (code, field) == (ErrorCode.INVALID_FORMAT, "eventDate")
    assert "offset" in message


def test_the_first_error_in_field_order_is_reported() -> None:
    item = bonus(uniqId="", phone="12345", eventType="bogus", showCount=0)

    assert single_error(validate(add(item)))[1] == "uniqId"


def test_an_item_that_is_not_an_object_is_an_error_of_its_own() -> None:
    results = validate(add("customer-1", bonus(1))).result.results

    assert results[0].status == "Error"
    assert results[0].error is not None
    assert results[0].error.code is ErrorCode.INVALID_FORMAT
    assert (results[0].login, results[0].guid) == (None, None)
    assert results[1].status == "Success"


def test_one_bad_item_leaves_the_others_accepted_in_order() -> None:
    validated = validate(add(bonus(1), bonus(2, email="broken@"), bonus(3)))

    assert [status.status for status in validated.result.results] == [
        "Success",
        "Error",
        "Success",
    ]
    assert [item.uniq_id for item in validated.items] == ["customer-1", "customer-3"]


def test_two_items_with_one_guid_both_pass_stage_one() -> None:
    validated = validate(add(bonus(1), bonus(1, uniqId="someone-else")))

    assert [status.status for status in validated.result.results] == ["Success", "Success"]


# --- normalisation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone", ["79161234567", "+79161234567", "89161234567", "8 (916) 123-45-67", "+7 916 123 45 67"]
)
def test_the_spellings_of_one_number_are_one_e164_number(phone: str) -> None:
    [item] = validate(add(bonus(phone=phone))).items

    assert item.phone == "+79161234567"


def test_an_international_number_without_plus_is_understood_outside_the_region() -> None:
    [item] = validate(add(bonus(phone="4915112345678"))).items

    assert item.phone == "+4915112345678"


def test_the_phone_region_is_configurable() -> None:
    [item] = validate(add(bonus(phone="06 12 34 56 78")), ValidationRules(phone_region="FR")).items

    assert item.phone == "+33612345678"


def test_an_email_keeps_its_local_part_and_lower_cases_its_domain() -> None:
    [item] = validate(add(bonus(email="Ivan.Petrov@Example.RU"))).items

    assert item.email == "Ivan.Petrov@example.ru"


def test_an_internationalised_email_is_accepted() -> None:
    [item] = validate(add(bonus(email="иван@пример.рф"))).items

    assert item.email == "иван@пример.рф"


@given(
    st.from_regex(
        r"[A-Za-z0-9_+-]{1,12}(\.[A-Za-z0-9_+-]{1,5})?@([A-Za-z0-9-]{1,9}\.){1,3}[A-Za-z]{2,6}",
        fullmatch=True,
    )
)
@settings(max_examples=300)
def test_the_fast_email_check_agrees_with_email_validator(address: str) -> None:
    try:
        expected: str | None = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None

    assert normalized_email(address) == expected


def test_long_emails_are_judged_as_email_validator_judges_them() -> None:
    for address in [
        "a" * 64 + "@example.ru",
        "a" * 65 + "@example.ru",
        "a@" + "b" * 64 + ".ru",
        "a@" + ("b" * 60 + ".") * 4 + "ru",
        "a@" + ("b" * 40 + ".") * 6 + "ru",
    ]:
        try:
            expected: str | None = validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError:
            expected = None
        assert normalized_email(address) == expected, address


@pytest.mark.parametrize(
    "spelling",
    [
        "2024-05-01T07:00:00Z",
        "2024-05-01T07:00:00.000Z",
        "2024-05-01T10:00:00+03",
        "2024-05-01T10:00:00+03:00",
        "2024-05-01T10:00:00+0300",
        "2024-05-01T02:30:00-04:30",
    ],
)
def test_date_times_are_accepted_as_organisers_send_them(spelling: str) -> None:
    [item] = validate(add(bonus(eventDate=spelling))).items

    assert item.accrual is not None
    assert item.accrual.event_date == datetime(2024, 5, 1, 7, tzinfo=UTC)
    assert item.accrual.event_date.utcoffset() is not None


def test_a_guid_in_capitals_is_kept_in_its_canonical_form() -> None:
    validated = validate(add(bonus(guid=GUID.upper())))

    assert validated.items[0].guid == GUID
    assert validated.result.results[0].guid == GUID


def test_trailing_zeros_are_within_the_fraction_digits() -> None:
    command = add(bonus(amount="5.000", operationAmount="7.000000"))

    [item] = validate(with_numbers(command, amount="5.000")).items

    assert item.accrual is not None
    assert item.accrual.amount == Decimal(5)
    assert item.accrual.operation_amount == Decimal(7)


# --- what amount and command decide ---------------------------------------------------------

BAD_ACCRUAL_FIELDS = {
    "info": "x" * 5000,
    "eventId": ["not", "a", "string"],
    "eventDate": "whenever",
    "eventType": "bogus",
    "operationType": "bogus",
    "operationAmount": -1,
    "merchantName": 3,
    "bankProduct": "x" * 500,
    "mcc": False,
}


@pytest.mark.parametrize("amount", [None, 0, "0", "0.00", "absent"])
def test_without_an_amount_the_accrual_fields_are_ignored(amount: Any) -> None:
    item = bonus(amount=amount, **BAD_ACCRUAL_FIELDS)
    if amount == "absent":
        item = without(item, "amount")

    validated = validate(add(item))

    assert validated.result.results[0].status == "Success"
    assert validated.items[0].accrual is None


def test_an_amount_requires_the_event_fields() -> None:
    item = without(bonus(amount="0.01"), "eventId", "eventDate", "eventType")

    assert single_error(validate(add(item)))[:2] == (ErrorCode.MISSING_FIELD, "eventId")


def test_a_message_without_an_accrual_is_accepted_and_shown_once_by_default() -> None:
    item = without(bonus(message="Welcome!"), "amount", "eventId", "eventDate", "eventType")

    [work_item] = validate(add(item)).items

    assert work_item.accrual is None
    assert work_item.message is not None
    assert (work_item.message.text, work_item.message.show_count) == ("Welcome!", 1)
    assert work_item.message.show_till is None


def test_a_customer_alone_is_an_item_without_accrual_or_message() -> None:
    [work_item] = validate(add({"guid": GUID, "uniqId": "12345678", "phone": "89161234567"})).items

    assert (work_item.phone, work_item.accrual, work_item.message) == ("+79161234567", None, None)


def test_add_bonus_ext_quick_ignores_the_message_fields() -> None:
    item = bonus(message="x" * 5000, showCount="many", showTill="later")

    validated = validate(add(item, command="addBonusExtQuick"))

    assert validated.result.type_of_command == "addBonusExtQuick"
    [work_item] = validated.items
    assert work_item.type_of_command == CommandType.ADD_BONUS_EXT_QUICK
    assert work_item.message is None
    assert work_item.accrual is not None


def test_unknown_fields_are_ignored() -> None:
    [item] = validate(add(bonus(loyaltyTier="gold", nested={"a": [1, 2]}))).items

    assert item.uniq_id == "customer-0"


def test_configured_enumerations_replace_the_defaults() -> None:
    rules = ValidationRules(event_types=("birthday",), operation_types=("gift",))

    accepted = validate(add(bonus(eventType="birthday", operationType="gift")), rules)
    refused = validate(add(bonus(eventType="operation")), rules)

    assert accepted.result.results[0].status == "Success"
    assert single_error(refused)[:2] == (ErrorCode.INVALID_ENUM, "eventType")


# --- the customer commands ------------------------------------------------------------------


def test_block_customers_carries_the_reason() -> None:
    validated = validate(
        customers("blockCustomers", {"guid": GUID, "uniqId": "1", "reason": "fraud"})
    )

    [item] = validated.items
    assert (item.type_of_command, item.uniq_id, item.reason) == (
        CommandType.BLOCK_CUSTOMERS,
        "1",
        "fraud",
    )


def test_block_customers_reason_is_limited() -> None:
    validated = validate(
        customers("blockCustomers", {"guid": GUID, "uniqId": "1", "reason": "x" * 1001})
    )

    assert single_error(validated)[:2] == (ErrorCode.INVALID_FORMAT, "reason")


def test_activate_customers_needs_guid_and_uniq_id() -> None:
    validated = validate(
        customers("activateCustomers", {"guid": GUID, "uniqId": "1"}, {"uniqId": "2"})
    )

    assert [item.uniq_id for item in validated.items] == ["1"]
    error = validated.result.results[1].error
    assert error is not None
    assert (error.code, error.field) == (ErrorCode.MISSING_FIELD, "guid")


@pytest.mark.parametrize("method", ["link", "self"])
def test_authorize_customer_accepts_both_methods(method: str) -> None:
    validated = validate(
        customers("authorizeCustomer", {"guid": GUID, "uniqId": "1", "method": method})
    )

    assert validated.items[0].method == method


@pytest.mark.parametrize(
    ("method", "code"), [(None, ErrorCode.MISSING_FIELD), ("password", ErrorCode.INVALID_ENUM)]
)
def test_authorize_customer_requires_a_known_method(method: str | None, code: ErrorCode) -> None:
    validated = validate(
        customers("authorizeCustomer", {"guid": GUID, "uniqId": "1", "method": method})
    )

    assert single_error(validated)[:2] == (code, "method")


def test_customer_commands_read_the_customers_list_not_add() -> None:
    validated = validate({"typeOfCommand": "blockCustomers", "add": [{"guid": GUID}]})

    assert command_error(validated) is ErrorCode.MISSING_FIELD
    assert validated.result.error is not None
    assert "customers" in validated.result.error.message


# --- whole-command failures -----------------------------------------------------------------


def test_more_than_a_thousand_items_reject_the_whole_command() -> None:
    validated = validate(add(*(bonus(n) for n in range(1001))))

    assert command_error(validated) is ErrorCode.TOO_MANY_ITEMS
    assert validated.result.type_of_command == "addCustomerPointMessage"


def test_a_thousand_items_are_accepted() -> None:
    validated = validate(add(*(bonus(n) for n in range(1000))))

    assert len(validated.items) == 1000


def test_a_body_over_one_mebibyte_is_refused_before_it_is_read() -> None:
    assert command_error(validate(b"x" * (2 * 1024 * 1024))) is ErrorCode.PAYLOAD_TOO_LARGE


def test_the_size_limit_is_configurable() -> None:
    body = json.dumps(add(bonus())).encode()

    assert command_error(validate(body, ValidationRules(max_bytes=len(body) - 1))) is (
        ErrorCode.PAYLOAD_TOO_LARGE
    )
    assert validate(body, ValidationRules(max_bytes=len(body))).result.error is None


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe\x00garbage",
        b"",
        b"{not json}",
        b'{"typeOfCommand": "addCustomerPointMessage", "add": [',
        b"[]",
        b'"addCustomerPointMessage"',
        b"42",
        b"null",
        b'{"typeOfCommand":"addCustomerPointMessage","add":[{"amount":NaN}]}',
        b'{"typeOfCommand":"addCustomerPointMessage","add":[{"amount":Infinity}]}',
        '{"typeOfCommand":"addCustomerPointMessage","add":[]}'.encode("utf-16"),
        b'{"typeOfCommand":"addCustomerPointMessage","add":[{"uniqId":"\\ud800"}]}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_what_is_not_a_json_object_is_invalid_json(raw: bytes) -> None:
    validated = validate(raw)

    assert command_error(validated) is ErrorCode.INVALID_JSON
    assert validated.result.type_of_command is None


def test_a_paired_surrogate_escape_is_a_character_like_any_other() -> None:
    item = b'{"guid":"%s","uniqId":"\\ud83d\\ude00"}' % GUID.encode()
    body = b'{"typeOfCommand":"addCustomerPointMessage","add":[%s]}' % item

    [work_item] = validate(body).items

    assert work_item.uniq_id == "\U0001f600"


@pytest.mark.parametrize(
    ("command", "echoed"),
    [({}, None), ({"typeOfCommand": 7}, None), ({"typeOfCommand": "addPoints"}, "addPoints")],
)
def test_a_missing_or_unknown_command_is_refused(
    command: dict[str, Any], echoed: str | None
) -> None:
    validated = validate({**command, "add": [bonus()]})

    assert command_error(validated) is ErrorCode.UNKNOWN_COMMAND
    assert validated.result.type_of_command == echoed


@pytest.mark.parametrize(
    ("items", "code"),
    [
        (None, ErrorCode.MISSING_FIELD),
        ("absent", ErrorCode.MISSING_FIELD),
        ({}, ErrorCode.INVALID_FORMAT),
    ],
)
def test_an_add_that_is_not_a_list_is_refused(items: Any, code: ErrorCode) -> None:
    command = {"typeOfCommand": "addCustomerPointMessage", "add": items}
    if items == "absent":
        del command["add"]

    validated = validate(command)

    assert command_error(validated) is code
    assert validated.result.error is not None
    assert "add" in validated.result.error.message


def test_an_empty_add_is_an_empty_answer() -> None:
    validated = validate(add())

    assert (validated.result.results, validated.result.error, validated.items) == ([], None, [])


def test_a_utf8_byte_order_mark_is_tolerated() -> None:
    assert validate(b"\xef\xbb\xbf" + json.dumps(add(bonus())).encode()).items


def test_rules_come_from_the_settings() -> None:
    custom = Settings(
        max_items_per_command=5,
        max_command_bytes=2048,
        phone_default_region="KZ",
        event_types=("a", "b"),
        operation_types=("c",),
    )

    assert bootstrap.validation_rules(custom) == ValidationRules(
        5, 2048, "KZ", ("a", "b"), ("c",)
    )
    assert bootstrap.validation_rules(Settings()) == ValidationRules()


# --- nothing raises -------------------------------------------------------------------------

TEXT = st.lists(st.sampled_from(["\ud800", "\udfff"]) | st.characters(), max_size=12).map("".join)
"""Any text, unpaired surrogates included: JSON can carry them as `\\u` escapes."""
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELD_NAMES = st.sampled_from(
    [
        "guid",
        "uniqId",
        "phone",
        "email",
        "amount",
        "info",
        "message",
        "showCount",
        "showTill",
        "eventId",
        "eventDate",
        "eventType",
        "operationType",
        "operationAmount",
        "merchantName",
        "bankProduct",
        "mcc",
        "reason",
        "method",
    ]
)
COMMANDS = st.sampled_from([*CommandType, "other"])
CUSTOMER_COMMANDS = ("blockCustomers", "activateCustomers", "authorizeCustomer")


def to_json(value: Any) -> bytes:
    return json.dumps(value, default=str).encode()


def assert_well_formed(validated: Validated, item_count: int | None = None) -> None:
    result = validated.result
    json.loads(result.to_json())
    for item in validated.items:
        json.loads(item.to_json())
    if result.error is not None:
        assert (result.results, validated.items) == ([], [])
    if item_count is not None and result.error is None:
        assert len(result.results) == item_count
    successes = [status for status in result.results if status.status == "Success"]
    assert len(successes) == len(validated.items)
    assert all(status.error is not None for status in result.results if status.status == "Error")


@given(st.binary(max_size=2000))
def test_any_bytes_get_a_validation_result(raw: bytes) -> None:
    assert_well_formed(validate(raw))


@given(JSON_VALUES)
def test_any_json_document_gets_a_validation_result(document: Any) -> None:
    assert_well_formed(validate(to_json(document)))


@given(COMMANDS, st.lists(JSON_VALUES, max_size=5))
def test_any_items_get_one_status_each(command: str, items: list[Any]) -> None:
    field = (
        "add"
        if command in ("addCustomerPointMessage", "addBonusExtQuick", "other")
        else "customers"
    )

    assert_well_formed(validate(to_json({"typeOfCommand": command, field: items})), len(items))


@given(COMMANDS, st.dictionaries(FIELD_NAMES, JSON_VALUES | TEXT, max_size=8))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_any_field_values_in_an_otherwise_valid_item_get_a_status(
    command: str, fields: dict[str, Any]
) -> None:
    item = {**bonus(), "method": "link", **fields}
    field = (
        "add"
        if command in ("addCustomerPointMessage", "addBonusExtQuick", "other")
        else "customers"
    )

    assert_well_formed(validate(to_json({"typeOfCommand": command, field: [item]})), 1)


@given(COMMANDS, TEXT, TEXT)
def test_any_identifiers_get_a_status_that_can_be_published(
    command: str, guid: str, uniq_id: str
) -> None:
    item = {**bonus(), "method": "link", "guid": guid, "uniqId": uniq_id}
    field = "customers" if command in CUSTOMER_COMMANDS else "add"

    assert_well_formed(validate(to_json({"typeOfCommand": command, field: [item]})), 1)


# --- programmes ------------------------------------------------------------------------------


@pytest.mark.parametrize("programme", [
    None, "", "Y/customer/Z", "bank\n", "-bank", "bank one", "a" * 65, "банк", "bank\x00",
])
def test_a_malformed_programme_fails_the_command_as_a_whole(programme: str | None) -> None:
    answer = validate_command(json.dumps(add(bonus())).encode(), command_id="cmd-1",
                              programme=programme, rules=RULES)

    assert answer.items == [] and answer.result.results == []
    assert answer.result.error is not None
    assert answer.result.error.code is ErrorCode.INVALID_PROGRAMME


@pytest.mark.parametrize("programme", ["default", "bank-b", "shop.ru_2", "a" * 64, "7eleven"])
def test_a_well_formed_programme_names_the_items(programme: str) -> None:
    answer = validate_command(json.dumps(add(bonus())).encode(), command_id="cmd-1",
                              programme=programme, rules=RULES)

    assert [item.programme for item in answer.items] == [programme]


def test_with_a_list_of_programmes_another_programme_is_refused() -> None:
    rules = ValidationRules(programmes=frozenset({"bank", "shop"}))
    raw = json.dumps(add(bonus())).encode()

    refused = validate_command(raw, command_id="c", programme="other", rules=rules)
    accepted = validate_command(raw, command_id="c", programme="shop", rules=rules)

    assert refused.result.error is not None
    assert refused.result.error.code is ErrorCode.INVALID_PROGRAMME
    assert [item.programme for item in accepted.items] == ["shop"]


def test_the_list_of_programmes_comes_from_the_settings() -> None:
    settings = Settings(programmes="bank, shop")  # type: ignore[arg-type]
    assert bootstrap.validation_rules(settings).programmes == {"bank", "shop"}


# --- the points lifecycle (docs/points.md) --------------------------------------------------


def lifecycle(command: str, field: str, **item: Any) -> dict[str, Any]:
    return {"typeOfCommand": command, field: [{"guid": GUID, "uniqId": "u1", **item}]}


REVERSAL = {"originalGuid": GUID, "eventId": "refund-1", "eventDate": "2026-03-01T10:00:00+03"}
SPENDING = {"amount": "15.50", "eventId": "order-1", "eventDate": "2026-03-01T10:00:00Z"}


def test_a_reversal_names_its_accrual_and_may_name_an_amount() -> None:
    whole = validate(lifecycle("reverseBonus", "reverse", **REVERSAL))
    part = validate(lifecycle("reverseBonus", "reverse", **REVERSAL, amount=20, reason="refund"))

    (item,) = whole.items
    assert item.reversal is not None
    assert (item.reversal.original_guid, item.reversal.amount) == (GUID, None)
    (partial,) = part.items
    assert partial.reversal is not None and partial.reversal.amount == Decimal(20)
    assert partial.reversal.event_date == datetime(2026, 3, 1, 10, tzinfo=MSK)


def test_a_spend_and_a_cancel_are_items_of_their_own() -> None:
    (spent,) = validate(lifecycle("spendBonus", "spend", **SPENDING, merchantName="TZUM")).items
    (given_back,) = validate(lifecycle("cancelSpend", "cancel", originalGuid=GUID)).items

    assert spent.spend is not None
    assert (spent.spend.amount, spent.spend.merchant_name) == (Decimal("15.50"), "TZUM")
    assert given_back.cancel is not None and given_back.cancel.amount is None


@pytest.mark.parametrize(("command", "field", "item", "code", "bad"), [
    ("reverseBonus", "reverse", without(REVERSAL, "originalGuid"), "MISSING_FIELD",
     "originalGuid"),
    ("reverseBonus", "reverse", {**REVERSAL, "originalGuid": "nope"}, "INVALID_FORMAT",
     "originalGuid"),
    ("reverseBonus", "reverse", {**REVERSAL, "amount": 0}, "INVALID_DECIMAL", "amount"),
    ("reverseBonus", "reverse", without(REVERSAL, "eventDate"), "MISSING_FIELD", "eventDate"),
    ("spendBonus", "spend", without(SPENDING, "amount"), "MISSING_FIELD", "amount"),
    ("spendBonus", "spend", {**SPENDING, "amount": "-1"}, "INVALID_DECIMAL", "amount"),
    ("spendBonus", "spend", {**SPENDING, "amount": "1.001"}, "INVALID_DECIMAL", "amount"),
    ("spendBonus", "spend", {**SPENDING, "eventDate": "2026-03-01T10:00:00"},
     "INVALID_FORMAT", "eventDate"),
    ("cancelSpend", "cancel", {"amount": 5}, "MISSING_FIELD", "originalGuid"),
    ("cancelSpend", "cancel", {"originalGuid": GUID, "amount": ""}, "INVALID_DECIMAL",
     "amount"),
])
def test_a_lifecycle_item_with_a_bad_field_gets_its_error(
    command: str, field: str, item: dict[str, Any], code: str, bad: str
) -> None:
    (status,) = validate(lifecycle(command, field, **item)).result.results

    assert status.error is not None
    assert (status.status, status.error.code, status.error.field) == ("Error", code, bad)


def test_an_accrual_may_name_when_its_points_become_available_and_expire() -> None:
    answer = validate(add(bonus(availableFrom="2026-04-01T00:00:00+03",
                                expiresAt="2027-04-01T00:00:00+03")))
    wrong = validate(add(bonus(availableFrom="2026-04-01T00:00:00Z",
                               expiresAt="2026-04-01T00:00:00Z")))

    (item,) = answer.items
    assert item.accrual is not None
    assert item.accrual.expires_at == datetime(2027, 4, 1, tzinfo=MSK)
    (refused,) = wrong.result.results
    assert refused.error is not None
    assert (refused.error.code, refused.error.field) == ("INVALID_FORMAT", "expiresAt")


def test_the_clock_s_own_command_is_not_an_organisers() -> None:
    answer = validate({"typeOfCommand": "settlePoints", "customers": []})

    assert answer.result.error is not None
    assert answer.result.error.code is ErrorCode.UNKNOWN_COMMAND
