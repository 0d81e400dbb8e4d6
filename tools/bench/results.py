"""The benchmark as the organiser: follows the results topic and tallies what came back.

Stage-1 results are keyed by commandId and stage-2 results by guid (services.contract.topics),
so a record is told apart by its key alone, and a stage-2 result needs no JSON parsing at all:
that keeps the benchmark's own CPU use small on a machine it shares with the pipeline.
"""

import asyncio
import json
import time

from services import bootstrap
from services.settings import Settings
from tools.bench.workload import BenchCommand

ERROR_STATUS = b'"status":"Error"'


class ResultsTally:
    """What came back for the commands of one phase (records of other phases are ignored)."""

    def __init__(self) -> None:
        self.items_of: dict[str, int] = {}
        self.sent_at: dict[str, float] = {}
        self.known_guids: set[str] = set()
        self.accepted: set[str] = set()
        self.processed: set[str] = set()
        self.expected_valid = 0
        self.answered: set[str] = set()
        """Commands with a stage-1 result; a repeat (intake re-validating a command after a
        rebalance, which at-least-once allows) is not counted twice."""
        self.items_validated = 0
        self.accepted_and_processed = 0
        self.failed_in_stage2 = 0
        self.latencies: list[float] = []
        """Produce -> stage-2 result, per item of the latency phase."""
        self.command_sent_at: dict[str, float] = {}
        self.validation_latencies: list[float] = []
        """Produce -> stage-1 result, per command of the latency phase."""
        self.last_validation = 0.0
        self.last_processing = 0.0

    def expect(self, command: BenchCommand, sent_at: float | None = None) -> None:
        """Registers a command about to be sent (and, for latency, when it is due)."""
        self.items_of[command.command_id] = len(command.guids)
        self.known_guids.update(command.guids)
        self.expected_valid += len(command.valid_guids)
        if sent_at is not None:
            self.sent_at.update(dict.fromkeys(command.guids, sent_at))
            self.command_sent_at[command.command_id] = sent_at

    @property
    def stage1_done(self) -> bool:
        return len(self.answered) == len(self.items_of)

    @property
    def done(self) -> bool:
        """Every command answered and every accepted item's stage-2 result consumed."""
        return self.stage1_done and self.accepted_and_processed == len(self.accepted)

    def record(self, key: bytes | None, value: bytes, now: float) -> None:
        """Tallies one record of the results topic, consumed at `now` (perf_counter)."""
        name = key.decode(errors="replace") if key else ""
        if name in self.items_of:
            if name in self.answered:
                return
            self.answered.add(name)
            self.validation(value, now)
            if name in self.command_sent_at:
                self.validation_latencies.append(now - self.command_sent_at[name])
        elif name in self.known_guids and name not in self.processed:
            self.processing(name, value, now)

    def validation(self, value: bytes, now: float) -> None:
        result = json.loads(value)
        self.last_validation = now
        for item in result.get("results") or []:
            self.items_validated += 1
            if item.get("status") == "Success" and item.get("guid") not in self.accepted:
                self.accepted.add(item["guid"])
                self.accepted_and_processed += item["guid"] in self.processed

    def processing(self, guid: str, value: bytes, now: float) -> None:
        self.processed.add(guid)
        self.last_processing = now
        self.failed_in_stage2 += ERROR_STATUS in value
        self.accepted_and_processed += guid in self.accepted
        if guid in self.sent_at:
            self.latencies.append(now - self.sent_at[guid])


class ResultsFollower:
    """Consumes the results topic for the whole run and hands every record to the tally of
    the current phase."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self.tally = ResultsTally()
        self.assigned = asyncio.Event()

    def begin(self) -> ResultsTally:
        """A fresh tally for the next phase."""
        self.tally = ResultsTally()
        return self.tally

    async def run(self) -> None:
        """Follows the topic until cancelled."""
        consumer = bootstrap.kafka_reader(self.settings, fetch_max_wait_ms=100,
                                          max_partition_fetch_bytes=4 * 1024 * 1024)
        consumer.subscribe([self.topic])
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=100, max_records=10_000)
                if consumer.assignment():
                    self.assigned.set()
                now = time.perf_counter()
                for records in batches.values():
                    for record in records:
                        self.tally.record(record.key, record.value or b"", now)
        finally:
            await consumer.stop()
