"""The figures side by side: pipeline, ceiling, ratio, target, met? — as a table and as JSON."""

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tools.bench.figures import Ceilings, PipelineFigures, per_second

SUSTAINED_ITEMS = 200_000
"""The end-to-end target holds over this many items; a shorter run only indicates."""


@dataclass(frozen=True)
class Row:
    figure: str
    pipeline: float | None
    ceiling: float | None = None
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.pipeline is None or not self.ceiling:
            return None
        return self.pipeline / self.ceiling


def rows(pipeline: PipelineFigures, ceilings: Ceilings | None) -> list[Row]:
    """The table's rows, with the speed targets (docs/benchmarks.md; 2 cores, Kafka and
    PostgreSQL alongside)."""
    kafka = ceilings.kafka_produce_per_s if ceilings else None
    end_to_end = end_to_end_ceiling(pipeline, ceilings)
    lag = pipeline.projection_lag_s
    cpu = pipeline.pipeline_cpu_ms_per_item
    table = [
        Row("stage 1, items/s", pipeline.stage1_per_s, kafka, ">= 8,000",
            pipeline.stage1_per_s >= 8_000),
        Row("end to end, items/s", pipeline.end_to_end_per_s, end_to_end, ">= 2,500",
            pipeline.end_to_end_per_s >= 2_500 if pipeline.items >= SUSTAINED_ITEMS else None),
        Row("CPU per accepted item, all processes, ms", cpu, None, "<= 0.8",
            cpu <= 0.8 if pipeline.usage else None),
        Row("projection lag, s", lag, None, "<= 2", lag is not None and lag <= 2),
    ]
    if latency := pipeline.latency:
        offered = f"{latency.offered_per_s:,.0f}/s"
        table += [
            Row(f"stage-1 latency p50 at {offered}, ms", latency.stage1_p50_ms),
            Row(f"stage-1 latency p99 at {offered}, ms", latency.stage1_p99_ms),
            Row(f"latency p50 at {offered}, ms", latency.p50_ms),
            Row(f"latency p95 at {offered}, ms", latency.p95_ms),
            Row(f"latency p99 at {offered}, ms", latency.p99_ms, None, "<= 1,000",
                latency.missing == 0 and latency.p99_ms <= 1_000),
        ]
    if ceilings:
        table += [
            Row("kafka produce+consume, records/s", None, ceilings.kafka_round_trip_per_s),
            Row("postgres insert, event rows/s", None, ceilings.postgres_rows_per_s),
        ]
    return table


def end_to_end_ceiling(pipeline: PipelineFigures, ceilings: Ceilings | None) -> float | None:
    """Items/s that the slower of raw Kafka (round trip) and raw PostgreSQL (the pipeline's
    event rows per item) allows."""
    if ceilings is None or not pipeline.events_stored:
        return None
    events_per_item = pipeline.events_stored / max(pipeline.items, 1)
    postgres_items = per_second(ceilings.postgres_rows, ceilings.postgres_seconds) / events_per_item
    return min(ceilings.kafka_round_trip_per_s, postgres_items)


def number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 10 else f"{value:,.3f}".rstrip("0").rstrip(".")


def verdict(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[met]


def table(pipeline: PipelineFigures, ceilings: Ceilings | None) -> str:
    """The text table printed at the end of a run."""
    header = ("figure", "pipeline", "ceiling", "ratio", "target", "met?")
    lines = [header] + [
        (row.figure, number(row.pipeline), number(row.ceiling),
         "-" if row.ratio is None else f"{row.ratio:.0%}", row.target, verdict(row.met))
        for row in rows(pipeline, ceilings)
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                      for i, (cell, width) in enumerate(zip(line, widths, strict=True)))
            for line in lines]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(text)


def usage_table(pipeline: PipelineFigures) -> str:
    """Per process: CPU in % of one core and in ms per item (throughput phase), peak memory.

    CPU ms per item hardly depends on what else runs on the machine: 1000 / (ms per item) is
    the items/s one core would allow that process alone.
    """
    lines = [f"{'process':<18} {'CPU %':>6} {'CPU ms/item':>12} {'peak MiB':>9}"]
    for name, usage in pipeline.usage.items():
        peak = f"{usage.peak_mib:9,.0f}" if usage.peak_mib else f"{'-':>9}"
        lines.append(f"{name:<18} {pipeline.cpu_percent(name):6.0f} "
                     f"{pipeline.cpu_ms_per_item(name):12.3f} {peak}")
    lines.append(f"{'all but bench':<18} {'':>6} {pipeline.pipeline_cpu_ms_per_item:12.3f}")
    lines.append(f"machine: {pipeline.machine_cpu_percent:.0f}% of all cores busy "
                 f"({pipeline.metered_seconds:.1f} s metered); (shared): other users' load too")
    return "\n".join(lines)


def as_json(pipeline: PipelineFigures, ceilings: Ceilings | None,
            context: dict[str, Any]) -> dict[str, Any]:
    """Everything measured, with the derived rates and the table's verdicts."""
    return {
        **context,
        "pipeline": {**asdict(pipeline), "stage1_per_s": pipeline.stage1_per_s,
                     "end_to_end_per_s": pipeline.end_to_end_per_s,
                     "cpu_ms_per_accepted_item": pipeline.pipeline_cpu_ms_per_item,
                     "cpu": {name: {"percent_of_core": pipeline.cpu_percent(name),
                                    "ms_per_item": pipeline.cpu_ms_per_item(name)}
                             for name in pipeline.usage}},
        "ceilings": None if ceilings is None else {
            **asdict(ceilings), "kafka_produce_per_s": ceilings.kafka_produce_per_s,
            "kafka_round_trip_per_s": ceilings.kafka_round_trip_per_s,
            "postgres_rows_per_s": ceilings.postgres_rows_per_s},
        "table": [{**asdict(row), "ratio": row.ratio} for row in rows(pipeline, ceilings)],
    }


def finite(value: Any) -> Any:
    """NaN (a percentile of no samples) as None, so that the JSON is strict."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    return value


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(finite(document), indent=2, default=str) + "\n")
