"""One benchmark run, start to end: fresh topics and database, the services, the phases,
the ceilings; everything started is stopped and dropped again, also on Ctrl-C or an error."""

import asyncio
import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer
from tqdm import tqdm

from services import bootstrap
from services.settings import Settings
from tools.bench.ceilings import POSTGRES_METHOD, kafka_round_trip, postgres_insert
from tools.bench.figures import Ceilings, Latency, PipelineFigures, Usage
from tools.bench.harness import BenchEnvironment, Services
from tools.bench.latency import measure_latency
from tools.bench.procfs import CpuMeter, peak_mib, pids_named
from tools.bench.profile import Profiler
from tools.bench.results import ResultsFollower
from tools.bench.throughput import measure_throughput, projection_lag
from tools.bench.workload import BenchCommand, Workload

LATENCY_COMMAND_ITEMS = 10
WARM_UP_ITEMS = 20
CUSTOMERS_PER_ITEM = 1 / 3
"""A pool of a third as many customers as items: most items create a customer, some accrue
to one created before."""


@dataclass(frozen=True)
class BenchOptions:
    items: int
    items_per_command: int
    invalid_share: float
    latency_rate: float
    latency_seconds: float
    skip_ceilings: bool
    keep: bool
    instances: tuple[tuple[str, int], ...] = ()
    """(service, instances) of the services that run more than once (intake, processor)."""
    profile: Path | None = None
    """Where py-spy's samples of each service during the throughput phase go (None: no
    profile)."""


@dataclass(frozen=True)
class Workloads:
    warm_up: list[BenchCommand]
    throughput: list[BenchCommand]
    latency: list[BenchCommand]


def generate(options: BenchOptions) -> Workloads:
    """Every command of the run, generated before anything is timed."""
    workload = Workload(int(options.items * CUSTOMERS_PER_ITEM), options.invalid_share)
    latency_items = int(options.latency_rate * options.latency_seconds)
    with tqdm(total=3, desc="generating commands", unit="phase") as bar:
        warm_up = workload.commands(WARM_UP_ITEMS, WARM_UP_ITEMS)
        bar.update()
        throughput = workload.commands(options.items, options.items_per_command)
        bar.update()
        latency = workload.commands(latency_items, LATENCY_COMMAND_ITEMS)
        bar.update()
    return Workloads(warm_up, throughput, latency)


def meter(services: Services) -> CpuMeter:
    """CPU meters of the services, the bench itself and the shared servers."""
    groups = dict(services.pids())
    groups["kafka (shared)"] = pids_named("java", "kafka.Kafka")
    groups["postgres (shared)"] = pids_named("postgres")
    groups["bench"] = [os.getpid()]
    return CpuMeter(groups)


async def measure_pipeline(environment: BenchEnvironment, services: Services,
                           workloads: Workloads, options: BenchOptions,
                           profiler: Profiler | None = None) -> PipelineFigures:
    """Warm-up, throughput (profiled when a profiler is given), projection lag, then latency
    at the offered load."""
    follower = ResultsFollower(environment.kafka, environment.topic("results"))
    following = asyncio.create_task(follower.run())
    kafka: AIOKafkaProducer = bootstrap.kafka_producer(environment.kafka)
    await kafka.start()
    commands_topic = environment.topic("commands")
    try:
        await services.settle()
        await measure_throughput(kafka, commands_topic, follower, workloads.warm_up, services,
                                 label="warm-up: ")
        cpu = meter(services)
        cpu.start()
        try:
            if profiler is not None:
                profiler.start()
            throughput = await measure_throughput(kafka, commands_topic, follower,
                                                  workloads.throughput, services)
        finally:
            if profiler is not None:
                profiler.stop()
        cpu_seconds, metered, machine = cpu.stop()
        lag, events = await projection_lag(environment.dsn, throughput.tally.last_processing)
        latency: Latency | None = None
        if workloads.latency:
            latency = await measure_latency(kafka, commands_topic, follower, workloads.latency,
                                            options.latency_rate, services)
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
        await kafka.stop()
    tally = throughput.tally
    peaks = services.peak_memory()
    peaks["bench"] = peak_mib(os.getpid())
    return PipelineFigures(
        items=options.items, commands=len(workloads.throughput),
        items_validated=tally.items_validated, items_accepted=len(tally.accepted),
        items_failed_in_stage2=tally.failed_in_stage2,
        stage1_seconds=throughput.stage1_seconds,
        end_to_end_seconds=throughput.end_to_end_seconds,
        events_stored=events, projection_lag_s=lag, latency=latency,
        usage={name: Usage(cpu, peaks.get(name, 0.0)) for name, cpu in cpu_seconds.items()},
        metered_seconds=metered, machine_cpu_percent=machine,
    )


def measure_ceilings(environment: BenchEnvironment, workloads: Workloads,
                     pipeline: PipelineFigures) -> Ceilings:
    """Raw Kafka on the throughput phase's item payloads, raw PostgreSQL on its event rows."""
    payloads = [p for command in workloads.throughput for p in command.item_payloads]
    produced, round_trip = asyncio.run(kafka_round_trip(
        environment.kafka, environment.topic("ceiling"), payloads))
    rows = max(pipeline.events_stored, 1)
    seconds, state_bytes = postgres_insert(environment.owner_database_dsn, rows)
    return Ceilings(len(payloads), produced, round_trip, rows, seconds, POSTGRES_METHOD,
                    state_bytes)


def run_bench(options: BenchOptions, profiled: dict[str, dict[str, float]] | None = None
              ) -> tuple[PipelineFigures, Ceilings | None, Path]:
    """The whole run; returns the figures, the ceilings and the services' log directory. With
    `options.profile`, each service's shares of py-spy's samples go into `profiled`."""
    settings = Settings()
    environment = BenchEnvironment(settings, settings.postgres_dsn,
                                   settings.postgres_owner_dsn)
    workloads = generate(options)
    log_dir = Path(tempfile.mkdtemp(prefix=f"loyalty-bench-{environment.run_id}-"))
    services = Services(environment, log_dir, dict(options.instances))
    environment.create_database()
    try:
        environment.prepare()
        services.start()
        profiler = None if options.profile is None else Profiler(options.profile,
                                                                  services.pids())
        pipeline = asyncio.run(measure_pipeline(environment, services, workloads, options,
                                                profiler))
        if profiler is not None and profiled is not None:
            profiled.update(profiler.summary())
            for failure in profiler.failures:
                print(f"--profile: {failure}", file=sys.stderr)
        services.stop()
        ceilings = None
        if not options.skip_ceilings:
            ceilings = measure_ceilings(environment, workloads, pipeline)
        return pipeline, ceilings, log_dir
    finally:
        services.stop()
        if not options.keep:
            clean_up(environment)
        else:
            own_key = not os.environ.get("LOYALTY_MASTER_KEY")
            print(f"loyalty bench: kept topics {environment.prefix}* and database "
                  f"{environment.database}; its personal fields are sealed under "
                  + (f"this run's master key {environment.master_key}" if own_key
                     else "your LOYALTY_MASTER_KEY"), file=sys.stderr)


def clean_up(environment: BenchEnvironment) -> None:
    """Deletes the run's topics and drops its database; says what is left when it cannot."""
    for what, step in ((f"topics {environment.prefix}*", environment.delete_topics),
                       (f"database {environment.database}", environment.drop_database)):
        try:
            step()
        except Exception as error:
            print(f"loyalty bench: could not remove {what}: {error!r}", file=sys.stderr)
