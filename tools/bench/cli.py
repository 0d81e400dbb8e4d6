"""`loyalty bench`: mounted by services/cli.py with `cli.add_typer(commands, name="bench")`."""

import datetime
import logging
import platform
import signal
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from tools.bench.report import SUSTAINED_ITEMS

commands = typer.Typer(add_completion=False)


HELP = "\n\n".join((
    "Benchmark the pipeline on this machine, beside raw Kafka and raw PostgreSQL"
    " (docs/benchmarks.md).",
    "Starts intake, processor, relay and projections as child processes (--scale: several"
    " intakes or processors) on topics and a database of their own, and produces"
    " addCustomerPointMessage / addBonusExtQuick commands over many customers (phones,"
    " e-mails, a share of invalid items).",
    "Measures: stage-1 items/s (first produce -> last stage-1 result consumed); end-to-end"
    " items/s (first produce -> every accepted item's stage-2 result consumed); projection lag"
    " (last stage-2 result -> read models' position at the event store's head); produce ->"
    " stage-2 result latency p50/p95/p99 at a fixed offered load (10-item commands paced by"
    " the clock); CPU of each process during the throughput phase, and summed per accepted"
    " item over every process but the benchmark's own; peak memory (VmHWM) at the end.",
    "Ceilings on the same volume: aiokafka produce + consume of the items as JSON, one record"
    " each; PostgreSQL COPY of as many event-shaped rows as the pipeline stored, 500 rows per"
    " transaction. Keep trial runs small on a shared machine: --items 20000.",
))


Items = Annotated[int, typer.Option(min=1, help="Items of the throughput phase.")]
PerCommand = Annotated[int, typer.Option(min=1, max=1000, help="Items per command.")]
InvalidShare = Annotated[float, typer.Option(min=0, max=1, help="Share failing stage 1.")]
LatencyRate = Annotated[float, typer.Option(min=1, help="Items/s offered, latency phase.")]
LatencySeconds = Annotated[float, typer.Option(min=0, help="Length of the latency phase.")]
SkipCeilings = Annotated[bool, typer.Option("--skip-ceilings", help="Pipeline only.")]
Keep = Annotated[bool, typer.Option("--keep", help="Keep the scratch database and topics.")]
JsonPath = Annotated[Path | None, typer.Option("--json", help="Also write the figures here.")]
Profile = Annotated[Path | None, typer.Option(
    "--profile", metavar="DIR",
    help="Sample every service with py-spy during the throughput phase (raw stacks in DIR) "
         "and print where each one's samples went (docs/benchmarks.md). Costs the services a "
         "little CPU: keep the figures of a profiled run apart.")]
Scale = Annotated[list[str] | None, typer.Option(
    "--scale", metavar="SERVICE=N",
    help="Run N instances of intake or processor (one consumer group), e.g. --scale "
         "processor=2 --scale intake=2.")]


@commands.callback(invoke_without_command=True, help=HELP)
def bench(
    ctx: typer.Context,
    items: Items = 200_000,
    items_per_command: PerCommand = 500,
    invalid_share: InvalidShare = 0.02,
    latency_rate: LatencyRate = 1000,
    latency_seconds: LatencySeconds = 20,
    skip_ceilings: SkipCeilings = False,
    keep: Keep = False,
    json_path: JsonPath = None,
    scale: Scale = None,
    profile: Profile = None,
) -> None:
    """Benchmark the pipeline on this machine, beside raw Kafka and raw PostgreSQL."""
    if ctx.invoked_subcommand is not None:
        return
    from services.supervisor import instance_counts
    from tools.bench.harness import SERVICES
    from tools.bench.profile import py_spy, summary_table
    from tools.bench.report import as_json, table, usage_table, write_json
    from tools.bench.run import BenchOptions, run_bench

    try:
        instances = instance_counts(scale or [], list(SERVICES))
    except ValueError as error:
        raise typer.BadParameter(f"--scale {error}") from None
    if profile is not None:
        try:
            py_spy()
        except FileNotFoundError as error:
            raise typer.BadParameter(f"--profile: {error}") from None
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # a fresh topic's leader warnings
    options = BenchOptions(items, items_per_command, invalid_share, latency_rate,
                           latency_seconds, skip_ceilings, keep, tuple(instances.items()),
                           profile)
    profiled: dict[str, dict[str, float]] = {}
    pipeline, ceilings, log_dir = run_bench(options, profiled)
    typer.echo(f"\n{items:,} items in {pipeline.commands:,} commands; "
               f"{pipeline.items_accepted:,} accepted by stage 1, "
               f"{pipeline.items_failed_in_stage2:,} failed in stage 2; "
               f"{pipeline.events_stored:,} events stored; service logs in {log_dir}\n")
    typer.echo(table(pipeline, ceilings))
    if items < SUSTAINED_ITEMS:
        typer.echo(f"(end-to-end target judged only over >= {SUSTAINED_ITEMS:,} items)")
    typer.echo("\nCPU during the throughput phase, peak memory at the end:")
    typer.echo(usage_table(pipeline))
    if profile is not None:
        summary = summary_table(profiled)
        (profile / "summary.txt").write_text(summary + "\n")
        typer.echo(f"\nWhere each service's py-spy samples went (raw stacks in {profile}):\n")
        typer.echo(summary)
    if json_path is not None:
        context = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                   "machine": platform.node(),
                   "options": asdict(options) | {"profile": profile and str(profile)}}
        write_json(json_path, as_json(pipeline, ceilings, context))


HISTORY_HELP = "\n\n".join((
    "Benchmark one customer with a long history, read with snapshots and without"
    " (docs/benchmarks.md, \"Snapshots\").",
    "Writes the customer (accruals mostly; spends, expiries, logins, messages) into a database"
    " of its own, a batch of 500 events at a time through the processor's save, snapshots"
    " included; then times loading it (the repository, the processor's prefetch), asOf at an"
    " early and a late instant, and pages of its history (the first, a late one, the first"
    " from the late instant), without snapshots and with them. Needs PostgreSQL only.",
))


@commands.command("history", help=HISTORY_HELP)
def history(
    events: Annotated[int, typer.Option(min=1000, help="Events of the customer.")] = 100_000,
    interval: Annotated[int | None, typer.Option(
        min=1, help="Snapshot every this many events (default: LOYALTY_SNAPSHOT_INTERVAL).")
    ] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Times each figure is measured.")] = 5,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the scratch database.")] = False,
) -> None:
    """Benchmark one customer with a long history, read with snapshots and without."""
    from services.settings import Settings
    from tools.bench.history import report, run_history_bench

    chosen = interval or Settings().snapshot_interval or 1000
    typer.echo(report(run_history_bench(events, chosen, repeats, keep)))
