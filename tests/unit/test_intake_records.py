"""How intake reads a record's headers and names a command that came without an id."""

from services.intake.worker import derived_command_id, header


def test_a_header_is_read_as_text_from_pairs_or_a_mapping() -> None:
    assert header([("programme", b"bank-b"), ("x", b"y")], "programme") == "bank-b"
    assert header({"commandId": b"c-1"}, "commandId") == "c-1"


def test_a_missing_or_undecodable_header_is_none() -> None:
    assert header(None, "programme") is None
    assert header([("programme", b"\xff\xfe")], "programme") is None


def test_a_derived_command_id_is_stable_per_position_and_differs_between_positions() -> None:
    first = derived_command_id("loyalty.commands", 3, 41)
    assert first == derived_command_id("loyalty.commands", 3, 41)
    assert first != derived_command_id("loyalty.commands", 3, 42)
    assert first != derived_command_id("loyalty.commands", 4, 41)
