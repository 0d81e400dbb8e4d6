"""The throughput phase: every command at once, as fast as Kafka takes them; then the read
models' lag behind the event store."""

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from aiokafka import AIOKafkaProducer
from tqdm import tqdm

from projections.progress import read_progress
from services.contract.topics import COMMAND_ID_HEADER
from tools.bench.harness import Services
from tools.bench.results import ResultsFollower, ResultsTally
from tools.bench.waiting import wait_for
from tools.bench.workload import BenchCommand

STALL_SECONDS = 120.0
LAG_POLL_SECONDS = 0.05
LAG_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Throughput:
    """What one throughput phase measured (seconds from the first produce)."""

    tally: ResultsTally
    stage1_seconds: float
    end_to_end_seconds: float


async def send(producer: AIOKafkaProducer, topic: str, command: BenchCommand) -> Any:
    """Hands one command to the producer; returns the future of its acknowledgement."""
    headers = [(COMMAND_ID_HEADER, command.command_id.encode())]
    return await producer.send(topic, command.value, headers=headers)


async def produce_all(producer: AIOKafkaProducer, topic: str, commands: list[BenchCommand],
                      produced: list[int]) -> None:
    acknowledgements = []
    for command in commands:
        acknowledgements.append(await send(producer, topic, command))
        produced[0] += len(command.guids)
    await asyncio.gather(*acknowledgements)


async def measure_throughput(producer: AIOKafkaProducer, topic: str, follower: ResultsFollower,
                             commands: list[BenchCommand], services: Services,
                             label: str = "") -> Throughput:
    """Sends every command and waits for every stage-1 and stage-2 result."""
    tally = follower.begin()
    for command in commands:
        tally.expect(command)
    items = sum(len(command.guids) for command in commands)
    produced = [0]
    started = time.perf_counter()
    sending = asyncio.create_task(produce_all(producer, topic, commands, produced))
    with (tqdm(total=items, desc=f"{label}produced", unit="item") as sent,
          tqdm(total=items, desc=f"{label}stage 1", unit="item") as validated,
          tqdm(total=tally.expected_valid, desc=f"{label}stage 2", unit="item") as processed):
        await wait_for(lambda: tally.done, {
            "produced": (sent, lambda: produced[0]),
            "stage 1": (validated, lambda: tally.items_validated),
            "stage 2": (processed, lambda: tally.accepted_and_processed),
        }, services, STALL_SECONDS)
    await sending
    return Throughput(tally, tally.last_validation - started,
                      max(tally.last_processing, tally.last_validation) - started)


async def projection_lag(dsn: str, since: float) -> tuple[float | None, int]:
    """Seconds from `since` (the last stage-2 result, perf_counter) until the read models'
    tracking position reaches the event store's head (None: not within the timeout), and that
    head: the number of events stored."""
    started = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        with tqdm(desc="read models", unit="event") as bar:
            while True:
                progress = await read_progress(conn)
                bar.total = progress.head
                bar.update(progress.position - bar.n)
                if progress.head and progress.position >= progress.head:
                    return time.perf_counter() - since, progress.head
                if time.perf_counter() - started > LAG_TIMEOUT_SECONDS:
                    return None, progress.head
                await asyncio.sleep(LAG_POLL_SECONDS)
