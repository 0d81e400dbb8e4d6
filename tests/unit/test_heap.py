"""The services' cycle collector leaves long-lived objects alone and still finds cycles, run in
a child interpreter (the policy changes the whole process's collector)."""

import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import gc, json, time
    from services.adapters.heap import THRESHOLDS, collect_in_full, keep_collector_off_the_heap

    class Node:
        def __init__(self):
            self.other = None

    kept = [Node() for _ in range(50_000)]      # long-lived, like cached customers
    keep_collector_off_the_heap(freeze_every=0.05)
    deadline = time.monotonic() + 10
    while gc.get_freeze_count() < 50_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    frozen = gc.get_freeze_count()
    tracked = len(gc.get_objects())             # what a collection would still scan

    a, b = Node(), Node()                       # a cycle, frozen, then let go
    a.other, b.other = b, a
    wait_for = gc.get_freeze_count() + 1
    while gc.get_freeze_count() < wait_for and time.monotonic() < deadline:
        time.sleep(0.01)
    del a, b
    before_full = gc.collect()                  # frozen: out of reach
    in_cycles = collect_in_full()
    print(json.dumps({"thresholds": gc.get_threshold() == THRESHOLDS, "frozen": frozen,
                      "tracked": tracked, "before_full": before_full,
                      "in_cycles": in_cycles}))
""")


def run_child() -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                          timeout=60, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_long_lived_objects_are_frozen_out_of_the_collectors_scans_and_cycles_still_go() -> None:
    seen = run_child()

    assert seen["thresholds"] is True
    assert isinstance(seen["frozen"], int) and seen["frozen"] >= 50_000
    assert isinstance(seen["tracked"], int) and seen["tracked"] < 5_000
    assert seen["before_full"] == 0            # the frozen cycle: not found while frozen
    assert isinstance(seen["in_cycles"], int) and seen["in_cycles"] >= 2
