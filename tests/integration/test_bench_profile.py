"""`loyalty bench --profile` attaches py-spy to running processes and finds where they spend
their time: here a child busy in a function of intake's, sampled for real."""

import subprocess
import sys
import time
from pathlib import Path

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

    assert (tmp_path / "intake-1.raw").stat().st_size > 0
    found = profiler.summary()["intake"]
    validating = "validating the items (pydantic, numbers, phones, e-mails)"
    assert max(found, key=found.__getitem__) == validating
    assert found[validating] > 0.8
