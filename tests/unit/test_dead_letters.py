"""A dead letter keeps the original record unchanged and says where it came from and why."""

import hashlib
import json
from datetime import UTC, datetime

import pytest

from services.adapters.dead_letters import DeadLetter, Origin
from services.contract.mapping import salvaged_identity


def test_a_dead_letter_carries_the_original_record_and_its_context_in_headers() -> None:
    origin = Origin("loyalty.items", 3, 41, key=b"\x00key", value=b"\xff not json",
                    headers=[("x", b"\x80")], timestamp=1_700_000_000_000)
    letter = DeadLetter(origin, "processor", "ValidationError: no guid", attempts=3,
                        at=datetime(2026, 1, 1, tzinfo=UTC))

    again = DeadLetter.of(origin.key, origin.value, letter.headers())

    assert again == letter
    assert letter.headers()[0] == ("x", b"\x80")
    assert dict(letter.headers())["loyalty.dlq.offset"] == b"41"


def test_a_tombstone_stays_a_tombstone() -> None:
    letter = DeadLetter(Origin("loyalty.items", 0, 7), "processor", "not an item")

    again = DeadLetter.of(letter.key, None, letter.headers())

    assert letter.key == b"", "a record with neither key nor value cannot be produced"
    assert (again.origin.key, again.origin.value, str(again.origin)) == (
        None, None, "loyalty.items:0:7")
    keyed = DeadLetter(Origin("loyalty.items", 0, 8, key=b"k"), "processor", "not an item")
    assert DeadLetter.of(keyed.key, None, keyed.headers()).origin.key == b"k"


def test_a_record_without_the_context_is_not_a_dead_letter() -> None:
    with pytest.raises(ValueError, match="not a dead letter"):
        DeadLetter.of(None, b"{}", [("loyalty.dlq.topic", b"t")])


def test_the_identity_of_an_unreadable_item_is_salvaged_when_it_can_be() -> None:
    raw = json.dumps({"programme": "bank", "guid": "g-1", "uniqId": "u-1", "commandId": "c-1",
                      "typeOfCommand": "addCustomerPointMessage",
                      "accrual": {"amount": "not a number"}}).encode()

    item = salvaged_identity(raw)

    assert item is not None
    assert (item.programme, item.guid, item.uniq_id, item.command_id) == (
        "bank", "g-1", "u-1", "c-1")
    assert item.fingerprint == salvaged_identity(raw).fingerprint  # type: ignore[union-attr]


@pytest.mark.parametrize("raw", [
    None, b"", b"\xff\xfe", b"[1, 2]", b'{"hello": "world"}',
    json.dumps({"programme": "Y/customer/Z", "guid": "g", "uniqId": "u", "commandId": "c",
                "typeOfCommand": "t"}).encode(),
    json.dumps({"programme": "bank", "guid": 7, "uniqId": "u", "commandId": "c",
                "typeOfCommand": "t"}).encode(),
])
def test_nothing_is_salvaged_from_garbage_or_a_crafted_programme(raw: bytes | None) -> None:
    assert salvaged_identity(raw) is None


def letter_size(record: object) -> int:
    _, key, value, headers = record  # type: ignore[misc]
    return (len(key or b"") + len(value or b"")
            + sum(len(name.encode()) + len(raw) for name, raw in headers))


def test_a_letter_that_fits_carries_the_original_unchanged() -> None:
    origin = Origin("loyalty.commands", 1, 9, key=b"k", value=b"v" * 1000,
                    headers=[("commandId", b"c-1")])
    letter = DeadLetter(origin, "intake", "Error: x")
    record = letter.record("loyalty.deadletter")
    assert (record.key, record.value, record.headers) == (b"k", origin.value, letter.headers())
    assert not DeadLetter.of(record.key, record.value, list(record.headers)).truncated


@pytest.mark.parametrize("limit", [4 * 1024 * 1024 - 64 * 1024, 200_000])
def test_a_letter_of_an_original_too_large_keeps_its_beginning_size_and_digest(
    limit: int,
) -> None:
    value = b"x" * (4 * 1024 * 1024)
    headers = [(f"pad{n}", b"p" * 100_000) for n in range(38)]  # ~3.8 MB of headers
    origin = Origin("loyalty.commands", 2, 77, key=b"k" * 5000, value=value, headers=headers)
    letter = DeadLetter(origin, "intake", "MessageSizeTooLargeError: too large")

    record = letter.record("loyalty.deadletter", limit=limit)

    assert letter_size(record) <= limit
    again = DeadLetter.of(record.key, record.value, list(record.headers))
    assert again.truncated
    assert again.extra["value-bytes"] == str(len(value))
    assert again.extra["value-sha256"] == hashlib.sha256(value).hexdigest()
    assert record.value == value[:64 * 1024] and len(record.key or b"") == 1024
    assert str(again.origin) == "loyalty.commands:2:77", "where to fetch the original"
    assert again.error.startswith("MessageSizeTooLargeError")
