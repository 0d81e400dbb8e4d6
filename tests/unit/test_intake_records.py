"""How intake reads a command record: its headers, its programme, and a command without an id."""

import json
from types import SimpleNamespace
from typing import Any

from services.contract.mapping import command_of
from services.contract.rules import ValidationRules
from services.contract.validation import validate_command
from services.intake.worker import NOT_TEXT, derived_command_id, header, received, validate_all
from tests.support.commands import accrual, add


def message(value: bytes | None, headers: list[tuple[str, bytes]]) -> Any:
    return SimpleNamespace(topic="loyalty.commands", partition=3, offset=41, key=None,
                           value=value, timestamp=1, headers=headers)


def test_a_header_is_read_as_text_from_pairs_or_a_mapping() -> None:
    assert header([("programme", b"bank-b"), ("x", b"y")], "programme") == "bank-b"
    assert header({"commandId": b"c-1"}, "commandId") == "c-1"


def test_a_missing_header_is_none_and_one_that_is_not_utf8_is_told_apart() -> None:
    assert header(None, "programme") is None
    assert header([("programme", b"\xff\xfe")], "programme") is NOT_TEXT


def test_a_derived_command_id_is_stable_per_position_and_differs_between_positions() -> None:
    first = derived_command_id("loyalty.commands", 3, 41)
    assert first == derived_command_id("loyalty.commands", 3, 41)
    assert first != derived_command_id("loyalty.commands", 3, 42)
    assert first != derived_command_id("loyalty.commands", 4, 41)


def test_a_command_without_programme_belongs_to_default_and_keeps_its_origin() -> None:
    command = received(message(b"{}", [("commandId", b"c-9")]))

    assert (command.programme, command.command_id) == ("default", "c-9")
    assert str(command.origin) == "loyalty.commands:3:41"
    assert command.origin.headers == [("commandId", b"c-9")]


def test_a_programme_header_that_is_not_utf8_fails_the_command_as_a_whole() -> None:
    command = received(message(b'{"typeOfCommand": "blockCustomers", "customers": []}',
                               [("programme", b"\xff")]))
    (answer,) = validate_all([command], ValidationRules())

    assert command.programme is None
    assert not isinstance(answer, BaseException)
    assert answer.items == []
    assert answer.result.error is not None and answer.result.error.code == "INVALID_PROGRAMME"


def test_a_tombstone_is_answered_as_invalid_json() -> None:
    command = received(message(None, []))
    (answer,) = validate_all([command], ValidationRules())

    assert not isinstance(answer, BaseException)
    assert answer.result.error is not None and answer.result.error.code == "INVALID_JSON"


def test_a_command_stage_1_fails_on_is_handed_back_as_its_error_and_the_others_answered(
    monkeypatch: Any,
) -> None:
    import services.intake.worker as worker

    def failing(raw: bytes, **kwargs: Any) -> Any:
        if raw == b"boom":
            raise RuntimeError("a bug")
        return validate_command(raw, **kwargs)

    monkeypatch.setattr(worker, "validate_command", failing)
    bad, good = received(message(b"boom", [])), received(message(b"{}", []))

    answers = validate_all([bad, good], ValidationRules())

    assert isinstance(answers[0], RuntimeError)
    assert not isinstance(answers[1], BaseException)



def test_items_go_with_their_command_s_kafka_timestamp_which_is_not_their_content() -> None:
    raw = json.dumps(add(accrual("u-1"))).encode()
    sent, again = (received(SimpleNamespace(**{**vars(message(raw, [])), "timestamp": at}))
                   for at in (1_900_000_000_123, -1))

    answers = validate_all([sent, again], ValidationRules())

    (first,), (second,) = (answer.items for answer in answers
                           if not isinstance(answer, BaseException))
    assert first.command_timestamp is not None
    assert first.command_timestamp.timestamp() == 1_900_000_000.123
    assert second.command_timestamp is None, "a record without a timestamp (-1)"
    assert first.fingerprint() == second.fingerprint(), "a re-sent command is the same item"
    assert command_of(first).command_timestamp == first.command_timestamp
