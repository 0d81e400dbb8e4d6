"""The benchmark's pure parts: the workload generator and the percentile."""

import math
import re

import pytest

from services.contract.fields import e164, normalized_email
from services.contract.validation import ValidationRules, validate_command
from tools.bench.figures import percentile
from tools.bench.workload import BenchCommand, Workload, email_of, phone_of

E164_RU_MOBILE = re.compile(r"\+79\d{9}")


@pytest.fixture(scope="module")
def commands() -> list[BenchCommand]:
    return Workload(customers=2_000, invalid_share=0.05, seed=7).commands(6_000, 500)


def test_commands_hold_the_items_asked_for(commands: list[BenchCommand]) -> None:
    assert [len(c.guids) for c in commands] == [500] * 12
    assert len(Workload(10, 0).commands(1_001, 500)[-1].guids) == 1


def test_every_guid_is_unique(commands: list[BenchCommand]) -> None:
    guids = [guid for command in commands for guid in command.guids]
    ids = [command.command_id for command in commands]
    assert len(set(guids)) == len(guids)
    assert not set(ids) & set(guids)


def test_the_share_of_invalid_items_is_about_the_one_asked(commands: list[BenchCommand]) -> None:
    items = sum(len(c.guids) for c in commands)
    invalid = items - sum(len(c.valid_guids) for c in commands)
    assert invalid / items == pytest.approx(0.05, abs=0.01)


def test_stage_1_accepts_exactly_the_items_meant_to_be_valid(commands: list[BenchCommand]) -> None:
    rules = ValidationRules()
    for command in commands[:3]:
        validated = validate_command(command.value, command_id=command.command_id,
                                     programme="default", rules=rules)
        accepted = {s.guid for s in validated.result.results if s.status == "Success"}
        assert accepted == command.valid_guids


def test_no_invalid_items_when_the_share_is_zero() -> None:
    commands = Workload(customers=100, invalid_share=0).commands(1_000, 100)
    assert all(set(c.guids) == c.valid_guids for c in commands)


@pytest.mark.parametrize("style", range(4))
def test_phones_are_valid_russian_mobiles_in_every_style(style: int) -> None:
    for customer in (0, 1, 4_242, 9_999_999):
        number = e164(phone_of(customer, style), "RU")
        assert number is not None and E164_RU_MOBILE.fullmatch(number)


def test_a_customer_keeps_one_phone_whatever_the_style() -> None:
    assert len({e164(phone_of(77, style), "RU") for style in range(4)}) == 1


def test_emails_are_valid_and_distinct_per_customer() -> None:
    addresses = [email_of(customer) for customer in range(1_000)]
    assert all(normalized_email(address) for address in addresses)
    assert len({address.lower() for address in addresses}) == 1_000


def test_a_seeded_workload_repeats_itself() -> None:
    first = Workload(50, 0.1, seed=3).commands(200, 50)
    second = Workload(50, 0.1, seed=3).commands(200, 50)
    assert [c.value for c in first] == [c.value for c in second]


@pytest.mark.parametrize(("fraction", "expected"), [
    (0.5, 50), (0.95, 95), (0.99, 99), (1.0, 100), (0.001, 1),
])
def test_percentile_is_nearest_rank(fraction: float, expected: float) -> None:
    samples = list(range(100, 0, -1))
    assert percentile(samples, fraction) == expected


def test_percentile_of_few_and_of_no_samples() -> None:
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([1.0, 2.0], 0.5) == 1.0
    assert math.isnan(percentile([], 0.5))
    with pytest.raises(ValueError):
        percentile([1.0], 0)
