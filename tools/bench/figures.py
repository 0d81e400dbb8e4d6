"""The benchmark's arithmetic: rates, percentiles, and the figures of one run. Pure code."""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest sample with at least `fraction` of all
    samples at or below it (`fraction` 0.99 -> p99). NaN when there are no samples."""
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = math.ceil(fraction * len(ordered))
    return ordered[max(rank, 1) - 1]


def per_second(count: int, seconds: float) -> float:
    """`count` per second over `seconds` (0 when no time has passed)."""
    return count / seconds if seconds > 0 else 0.0


BENCH = "bench"
"""The benchmark's own process in `usage`: counted apart from the pipeline."""


@dataclass(frozen=True)
class Latency:
    """Produce -> stage-2 result latency of the items of the latency phase, in milliseconds."""

    offered_per_s: float
    achieved_per_s: float
    items: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    missing: int
    """Accepted items whose stage-2 result never came within the phase's timeout."""
    stage1_p50_ms: float
    stage1_p99_ms: float
    """Produce -> stage-1 result of the same commands: the part stage 1 takes."""

    @classmethod
    def of(cls, seconds: Sequence[float], stage1_seconds: Sequence[float], offered: float,
           achieved: float, missing: int) -> "Latency":
        ms = [s * 1000 for s in seconds]
        stage1 = [s * 1000 for s in stage1_seconds]
        return cls(offered, achieved, len(ms), percentile(ms, 0.5), percentile(ms, 0.95),
                   percentile(ms, 0.99), max(ms, default=math.nan), missing,
                   percentile(stage1, 0.5), percentile(stage1, 0.99))


@dataclass(frozen=True)
class Usage:
    """What one process used: CPU seconds during the throughput phase, peak resident memory."""

    cpu_seconds: float
    peak_mib: float


@dataclass
class PipelineFigures:
    """What the pipeline did with the throughput workload, then at a fixed offered load."""

    items: int
    commands: int
    items_validated: int
    items_accepted: int
    items_failed_in_stage2: int
    stage1_seconds: float
    end_to_end_seconds: float
    events_stored: int
    projection_lag_s: float | None
    """None: the read models did not catch up within the timeout."""
    latency: Latency | None = None
    usage: dict[str, Usage] = field(default_factory=dict)
    """Per service and server during the throughput phase (peak memory: at the end)."""
    metered_seconds: float = 0.0
    """Wall time over which `usage` CPU seconds were metered (the throughput phase)."""
    machine_cpu_percent: float = 0.0
    """The whole machine's busy time during the throughput phase, % of all cores."""

    def cpu_percent(self, name: str) -> float:
        """The process's CPU during the throughput phase, in % of one core."""
        return 100 * self.usage[name].cpu_seconds / max(self.metered_seconds, 1e-9)

    def cpu_ms_per_item(self, name: str) -> float:
        """CPU milliseconds per accepted item: what a process costs whatever else runs beside
        it."""
        return 1000 * self.usage[name].cpu_seconds / max(self.items_accepted, 1)

    @property
    def pipeline_cpu_ms_per_item(self) -> float:
        """CPU milliseconds per accepted item of every process but the benchmark's own: the
        services, Kafka and PostgreSQL."""
        return sum(self.cpu_ms_per_item(name) for name in self.usage if name != BENCH)

    @property
    def stage1_per_s(self) -> float:
        return per_second(self.items_validated, self.stage1_seconds)

    @property
    def end_to_end_per_s(self) -> float:
        return per_second(self.items, self.end_to_end_seconds)


@dataclass(frozen=True)
class Ceilings:
    """Raw Kafka and raw PostgreSQL on the same volume, with the same client libraries."""

    kafka_records: int
    kafka_produce_seconds: float
    kafka_round_trip_seconds: float
    """From the first send until the last record was consumed back (consumer running along)."""
    postgres_rows: int
    postgres_seconds: float
    postgres_method: str
    state_bytes: int

    @property
    def kafka_produce_per_s(self) -> float:
        return per_second(self.kafka_records, self.kafka_produce_seconds)

    @property
    def kafka_round_trip_per_s(self) -> float:
        return per_second(self.kafka_records, self.kafka_round_trip_seconds)

    @property
    def postgres_rows_per_s(self) -> float:
        return per_second(self.postgres_rows, self.postgres_seconds)
