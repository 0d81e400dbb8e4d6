"""A service's watchdog: stuck when behind without progress or when its loop stops turning, not
while it waits for a dependency that is down; and the probes that report it."""

import json
from typing import Any

from services.adapters.health import EXIT_STUCK, Watchdog, probes_app, watch
from services.adapters.metrics import ServiceMetrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def watchdog(stuck_after: float = 60) -> tuple[Watchdog, Clock]:
    clock = Clock()
    return Watchdog("test", stuck_after, clock=clock), clock


def test_behind_without_progress_for_too_long_is_stuck() -> None:
    dog, clock = watchdog()
    dog.progress(10, behind=True)
    clock.now += 59
    dog.turned()
    dog.progress(10, behind=True)
    assert dog.stuck() is None
    clock.now += 2
    dog.turned()
    dog.progress(10, behind=True)
    assert "no progress" in (dog.stuck() or "")
    dog.progress(11, behind=True)
    assert dog.stuck() is None


def test_idle_and_caught_up_is_never_stuck() -> None:
    dog, clock = watchdog()
    for _ in range(10):
        clock.now += 30
        dog.turned()
        dog.progress(10, behind=False)
        assert dog.stuck() is None
    assert dog.seconds_since_progress() == 0


def test_a_loop_that_stops_turning_is_stuck_and_not_live() -> None:
    dog, clock = watchdog()
    dog.progress(5, behind=False)
    clock.now += 61
    assert "not turned" in (dog.stuck() or "")
    assert not dog.live()


def test_waiting_for_a_dependency_is_not_ready_but_not_stuck() -> None:
    dog, clock = watchdog()
    dog.progress(10, behind=True)
    dog.unavailable("the event store")
    clock.now += 300
    dog.turned()
    assert dog.stuck() is None
    assert dog.readiness() == {"waiting": "waiting for the event store"}
    dog.available("the event store")
    clock.now += 30
    dog.turned()
    assert dog.stuck() is None, "the time without progress starts over"
    clock.now += 31
    dog.turned()
    assert dog.stuck() is not None


def test_a_forced_verdict_is_stuck_at_once() -> None:
    dog, _ = watchdog()
    dog.force("the topic was created anew")
    assert dog.stuck() == "the topic was created anew"


def call(app: Any, path: str) -> tuple[str, dict[str, Any]]:
    answer: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"] = status

    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, start_response))
    return answer["status"], json.loads(body) if path != "/metrics" else {}


def test_the_probes_say_why_a_service_is_not_ready() -> None:
    dog, _ = watchdog()
    app = probes_app(dog, ServiceMetrics("test"))
    assert call(app, "/readyz") == ("200 OK", {"ready": True, "reasons": {}})
    dog.check("partitions", "no partition assigned")
    status, body = call(app, "/readyz")
    assert status.startswith("503") and body["reasons"] == {"partitions": "no partition assigned"}
    assert call(app, "/livez")[0] == "200 OK"
    assert call(app, "/metrics")[0] == "200 OK"


def test_a_stuck_service_is_ended_for_its_supervisor_to_start_again() -> None:
    dog, _ = watchdog()
    dog.force("stuck on purpose")
    ended: list[int] = []
    watch(dog, every=0.01, end=ended.append).join(timeout=5)
    assert ended == [EXIT_STUCK]
