"""The one retry policy: how long to wait before trying again.

Every loop that waits for something that went away (a broker, the database, a child process
that exited) waits `backoff(attempt)`: exponential from `first`, capped at `longest`, with
jitter so that instances that failed together do not retry together. The loops themselves stay
where they are, because each decides differently what is transient, what to log, and how to
stop when asked (docs/decisions.md, "One retry policy").
"""

import random


def backoff(attempt: int, first: float = 0.2, longest: float = 10.0) -> float:
    """Seconds to wait before retry number `attempt` (0, 1, ...): exponential, jittered."""
    return min(longest, first * 2 ** min(attempt, 16)) * random.uniform(0.5, 1.0)
