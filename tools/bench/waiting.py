"""Waiting for the pipeline without waiting forever: progress bars and a stall timeout."""

import asyncio
import time
from collections.abc import Callable

from tqdm import tqdm

from tools.bench.harness import Services

POLL_SECONDS = 0.05


class StalledError(RuntimeError):
    """The pipeline made no progress for too long."""


Counter = Callable[[], int]


async def wait_for(done: Callable[[], bool], bars: dict[str, tuple[tqdm, Counter]],
                   services: Services, stall_seconds: float) -> None:
    """Polls until `done()`, moving each bar to its counter; fails when a service exits or no
    counter moves for `stall_seconds`."""
    last = {name: -1 for name in bars}
    moved = time.monotonic()
    while not done():
        services.check_alive()
        now = [(name, counter()) for name, (_, counter) in bars.items()]
        for name, count in now:
            bar = bars[name][0]
            bar.update(count - bar.n)
            if count != last[name]:
                last[name], moved = count, time.monotonic()
        if time.monotonic() - moved > stall_seconds:
            raise StalledError(f"no progress for {stall_seconds:.0f} s: {dict(now)}")
        await asyncio.sleep(POLL_SECONDS)
    for bar, counter in bars.values():
        bar.update(counter() - bar.n)
