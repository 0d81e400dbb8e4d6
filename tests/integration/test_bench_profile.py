"""`loyalty bench --profile` attaches py-spy to running processes and finds where they spend
their time: here a child busy in a function of intake's, sampled for real."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.bench.procfs import cpu_seconds
from tools.bench.profile import Profiler

BUSY = """
import time
def validate_all():
    total = 0
    for n in range(20000):
        total += n * n
    return total
def records_of():
    time.sleep(0.001)
while True:
    validate_all()
    records_of()
"""


def test_a_profiled_process_has_its_samples_under_the_heading_of_its_busy_function(
        tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        profiler = Profiler(tmp_path, {"intake": [child.pid]})
        profiler.start()
        started = cpu_seconds(child.pid)
        deadline = time.monotonic() + 30
        while cpu_seconds(child.pid) - started < 1.0 and time.monotonic() < deadline:
            time.sleep(0.05)
        profiler.stop()
    finally:
        child.kill()
        child.wait()

    if any("ermission" in failure or "ptrace" in failure for failure in profiler.failures):
        pytest.skip(f"py-spy may not attach to processes here: {profiler.failures}")
    assert profiler.failures == []
    assert (tmp_path / "intake-1.raw").stat().st_size > 0
    found = profiler.summary()["intake"]
    validating = "validating the items (pydantic, numbers, phones, e-mails)"
    assert max(found, key=found.__getitem__) == validating
    assert found[validating] > 0.8


def test_a_process_py_spy_cannot_sample_is_named_with_py_spys_reason(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    profiler = Profiler(tmp_path, {"relay": [gone.pid]})
    profiler.start()
    deadline = time.monotonic() + 60
    while any(recorder.poll() is None for recorder, _ in profiler.recorders) and (
            time.monotonic() < deadline):
        time.sleep(0.05)
    profiler.stop()

    (failure,) = profiler.failures
    assert failure.startswith("relay-1: py-spy exited with 1: Error")
    assert profiler.summary() == {"relay": {}}
