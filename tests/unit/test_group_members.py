"""Counting a consumer group's members while the broker cannot say yet: on a new broker the
group coordinator is unknown until the offsets topic exists, and that is "not stable yet",
not a failure of whoever waits for the group (the benchmark, the pipeline tests)."""

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import (
    CoordinatorLoadInProgressError,
    GroupCoordinatorNotAvailableError,
    KafkaConnectionError,
    NotCoordinatorForGroupError,
)

from services.adapters import kafka
from services.settings import Settings


class Admin:
    """An admin client whose answers are given: an error to raise, or a group's state."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.closed = False

    async def describe_consumer_groups(self, groups: list[str]) -> list[Any]:
        (group,) = groups
        answer = self.answers[group]
        if isinstance(answer, Exception):
            raise answer
        state, members = answer
        return [SimpleNamespace(groups=[(0, group, state, "consumer", "range", members)])]

    async def close(self) -> None:
        self.closed = True


def members_with(monkeypatch: pytest.MonkeyPatch, answers: dict[str, Any]) -> dict[str, int]:
    admin = Admin(answers)

    async def started(*_: Any) -> None:
        return None

    monkeypatch.setattr(kafka, "admin_client", lambda _settings: admin)
    monkeypatch.setattr(kafka, "start_diagnosed", started)
    members = asyncio.run(kafka.stable_members(Settings(), list(answers)))
    assert admin.closed
    return members


def test_a_group_whose_coordinator_is_not_known_yet_counts_no_members(
        monkeypatch: pytest.MonkeyPatch) -> None:
    members = members_with(monkeypatch, {
        "new": GroupCoordinatorNotAvailableError("Unable to get coordinator id for new"),
        "loading": CoordinatorLoadInProgressError(),
        "moved": NotCoordinatorForGroupError(),
        "running": ("Stable", [("m1",), ("m2",)]),
        "moving": ("PreparingRebalance", [("m1",)]),
    })

    assert members == {"new": 0, "loading": 0, "moved": 0, "running": 2, "moving": 0}


def test_other_failures_still_reach_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KafkaConnectionError):
        members_with(monkeypatch, {"lost": KafkaConnectionError("broker gone")})
