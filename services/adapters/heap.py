"""Python's cycle collector and a large heap of long-lived objects.

The processor keeps up to 100,000 customers and indexes in memory (`prefetch.AggregateCache`),
over a million objects; the other services keep fewer, but allocate as much per item. CPython's
cycle collector scans every object it tracks at each full collection, and the number of full
collections grows with what is allocated: measured over `loyalty bench --items 200000`, the
processor spent 21 s of its 65 s of CPU in 34 full collections, the longest 1.45 s, during
which nothing else in the process ran (the tail of the end-to-end latency); the read models'
writer 11 s in 77. Those scans found almost nothing: a few hundred objects in cycles over the
whole run, in every service; what the services make is freed by reference counting.

So `keep_collector_off_the_heap` makes a service's collector look only at what is young:

- every 5 seconds, the young generations are collected (what was made since the last time:
  a cycle of a failed batch, an exception and its frames, goes now), then what the process
  still holds is frozen (`gc.freeze`): moved out of the collector's generations, never scanned
  again, and still freed by its reference count when let go;
- the youngest generation is collected after 100,000 allocations rather than 700, so that the
  batch under way (records, items, customers, events: some 100,000 objects for 500 items) is
  not scanned again and again;
- a cycle that was still in use when frozen, and let go later, would never be collected: once
  an hour the heap is unfrozen and collected in full (one pause of the length above), so that
  such garbage cannot pile up.
"""

import gc
import threading
import time

import structlog

log = structlog.get_logger(__name__)

FREEZE_EVERY_SECONDS = 5.0
FULL_EVERY_SECONDS = 3600.0
THRESHOLDS = (100_000, 50, 1000)
"""Allocations before the youngest generation is collected, and collections of each
generation before the next is collected too (CPython's defaults: 700, 10, 10)."""


def keep_collector_off_the_heap(freeze_every: float = FREEZE_EVERY_SECONDS,
                                full_every: float = FULL_EVERY_SECONDS) -> threading.Thread:
    """Sets the thresholds and starts the thread that freezes the heap (a daemon: it ends
    with the process)."""
    gc.set_threshold(*THRESHOLDS)
    gc.freeze()
    thread = threading.Thread(target=_freeze_forever, args=(freeze_every, full_every),
                              name="heap", daemon=True)
    thread.start()
    return thread


def _freeze_forever(freeze_every: float, full_every: float) -> None:
    collected_at = time.monotonic()
    while True:
        time.sleep(freeze_every)
        if time.monotonic() - collected_at >= full_every:
            collect_in_full()
            collected_at = time.monotonic()
        else:
            gc.collect(1)
        gc.freeze()


def collect_in_full() -> int:
    """Unfreezes the heap and collects it in full; returns the objects found in cycles."""
    gc.unfreeze()
    started = time.perf_counter()
    found = gc.collect()
    log.info("heap collected in full", objects_in_cycles=found,
             seconds=round(time.perf_counter() - started, 3))
    return found
