"""The latency phase: small commands at a fixed offered load, paced by the clock.

Command n is due at t0 + n * size / rate; a late send is not skipped or squeezed, and its
latency counts from when it was due, so that a slow producer cannot hide a slow pipeline
(no coordinated omission).
"""

import asyncio
import time

from aiokafka import AIOKafkaProducer
from tqdm import tqdm

from tools.bench.figures import Latency, per_second
from tools.bench.harness import Services
from tools.bench.results import ResultsFollower
from tools.bench.throughput import send
from tools.bench.waiting import StalledError, wait_for
from tools.bench.workload import BenchCommand

DRAIN_STALL_SECONDS = 60.0


async def offer_load(producer: AIOKafkaProducer, topic: str, follower: ResultsFollower,
                     commands: list[BenchCommand], rate: float) -> float:
    """Sends the commands at `rate` items/s; returns the rate achieved."""
    tally = follower.tally
    started = time.perf_counter()
    due = started
    acknowledgements = []
    with tqdm(total=sum(len(c.guids) for c in commands), desc="latency: offered",
              unit="item") as bar:
        for command in commands:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tally.expect(command, sent_at=due)
            acknowledgements.append(await send(producer, topic, command))
            bar.update(len(command.guids))
            due += len(command.guids) / rate
    await asyncio.gather(*acknowledgements)
    items = sum(len(command.guids) for command in commands)
    return per_second(items, time.perf_counter() - started)


async def measure_latency(producer: AIOKafkaProducer, topic: str, follower: ResultsFollower,
                          commands: list[BenchCommand], rate: float,
                          services: Services) -> Latency:
    """Offers the commands at `rate` items/s and waits for their stage-2 results."""
    tally = follower.begin()
    achieved = await offer_load(producer, topic, follower, commands, rate)
    missing = 0
    with tqdm(total=tally.expected_valid, desc="latency: results", unit="item") as bar:
        try:
            await wait_for(lambda: tally.done,
                           {"results": (bar, lambda: tally.accepted_and_processed)},
                           services, DRAIN_STALL_SECONDS)
        except StalledError:
            missing = len(tally.accepted) - tally.accepted_and_processed
    return Latency.of(tally.latencies, tally.validation_latencies, rate, achieved, missing)
