"""`loyalty bench --profile DIR`: where each service's CPU goes during the throughput phase.

py-spy samples every service (100 samples/s, its raw "collapsed stacks" format, one file per
instance in DIR) from the start of the throughput phase to its end. Each sample is then counted
once, under the innermost heading of its service's list below that one of its frames matches;
a sample that matches none is counted under the event loop (waiting in epoll) or "other". The
shares are of the samples py-spy took, not of CPU time: py-spy counts some waits as running
(epoll, a worker thread waiting for work, taking the GIL back), so the event loop's share
overstates what it costs. Multiply a share by the service's CPU ms per item for its
microseconds per item.
"""

import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

RATE = 100
"""Samples per second."""

Headings = tuple[tuple[str, tuple[str, ...]], ...]
"""(heading, frame fragments): a frame containing any fragment belongs under the heading."""

HEADINGS: dict[str, Headings] = {
    "intake": (
        ("consuming the commands (aiokafka)", ("getmany", "Fetcher")),
        ("validating the items (pydantic, numbers, phones, e-mails)", ("validate_all",)),
        ("the records: envelopes, their partitions, the results", ("records_of", "envelopes")),
        ("producing (aiokafka)", ("Publisher.", "enqueue_batched", "AIOKafkaProducer")),
        ("the rest of intake", ("CommandConsumer", "CommandValidator")),
    ),
    "processor": (
        ("reading the items (fetching, decoding envelopes, domain commands)",
         ("ItemConsumer.consume_once", "ItemConsumer.run", "decode (services/processor",
          "read_item", "AIOKafkaConsumer", "Fetcher")),
        ("the ids a batch needs", ("needed_ids", "customer_ids")),
        ("reading and unwrapping the batch's data keys", ("KeyRing.refresh",)),
        ("snapshots", ("latest_snapshots",)),
        ("the batch read's query", ("select_newer_events",)),
        ("decoding and applying the stored events a batch loads",
         ("PrefetchedLoader.__init__",)),
        ("applying the items to the aggregates",
         ("UnitOfWork.apply", "UnitOfWork.settle", "UnitOfWork.fail")),
        ("recording each item's outcome (ItemOutcome)", ("ItemOutcome.record",)),
        ("encoding the events (the transcoder)", ("Mapper.to_stored_event",)),
        ("sealing personal fields", ("seal_state",)),
        ("storing new data keys", ("KeyRing.store", "KeyRing.pending_rows")),
        ("inserting the events and the positions",
         ("insert_events", "EventStore.put", "ItemProcessor.save")),
        ("answers, the rest of the batch", ("ItemProcessor.process",)),
    ),
    "relay": (
        ("reading the notifications", ("select_notifications", "RelayService.next_step")),
        ("decoding the stored JSON",
         ("CompiledJSONTranscoder.plain", "domain_events", "to_domain_event")),
        ("the published form (ids, fields)", ("published_form", "event_id")),
        ("encoding the events' JSON", ("encoded (services/relay", "JSONEncoder")),
        ("the results' JSON", ("result_json", "to_json")),
        ("the data keys", ("KeyRing.refresh", "KeyRing.clear")),
        ("building the records", ("Relay.records", "Relay.published_from_state",
                                  "Relay.event_record")),
        ("producing (aiokafka)", ("Publisher.", "enqueue_batched", "aiokafka",
                                  "RelayService.produce")),
        ("storing the position", ("store_position", "insert_tracking")),
    ),
    "projections": (
        ("reading the notifications",
         ("EventLog.read", "select_final_notifications", "select_notifications")),
        ("the data keys", ("KeyRing.refresh",)),
        ("decoding the events and opening personal fields",
         ("to_domain_events", "to_domain_event", "domain_events")),
        ("folding", ("ReadModelWriter.fold",)),
        ("merging the changes into statements", ("Batch.seal", "Batch.add", "_by_shape")),
        ("sending the rows", ("Batch.write", "write_changes", "ReadModelView.write")),
        ("the pending items' consumer", ("PendingItems", "pending_items", "record_items",
                                         "projections/pending.py")),
        ("tracking, commit, the rest of the writer",
         ("ReadModelWriter.step", "ReadModelFollower.follow")),
    ),
}
EVENT_LOOP = "the event loop, waiting in epoll"
OTHER = "threads, metrics, everything else"


def service_of(label: str) -> str:
    """The service a label names (`intake x2` -> `intake`)."""
    return label.split(" ")[0]


def heading_of(frames: list[str], headings: Headings) -> str:
    """The heading of one sample: that of its innermost frame that matches one."""
    for frame in reversed(frames):
        for heading, fragments in headings:
            if any(fragment in frame for fragment in fragments):
                return heading
    if frames and "EpollSelector.select" in frames[-1]:
        return EVENT_LOOP
    return OTHER


def shares(lines: Iterable[str], headings: Headings) -> dict[str, float]:
    """Each heading's share of the samples in py-spy's raw format (`frame;frame;... count`),
    largest first."""
    counts: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            counts[heading_of(stack.split(";"), headings)] += int(count)
    total = sum(counts.values())
    return {heading: count / total for heading, count in counts.most_common()} if total else {}


def py_spy() -> str:
    """The py-spy program: beside this Python (the project's environment), else on the PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise FileNotFoundError("py-spy is not installed: `pip install py-spy` (the project's "
                                "dev extra has it)")
    return found


class Profiler:
    """py-spy attached to every service's instances, from `start` to `stop`."""

    def __init__(self, directory: Path, pids: Mapping[str, list[int]]) -> None:
        self.directory = directory
        self.pids = {service_of(label): list(pids) for label, pids in pids.items()}
        self.recorders: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.failures: list[str] = []
        """Why a recorder ended with an error (it could not attach, say), one line each."""

    def files(self, service: str) -> list[Path]:
        return [self.directory / f"{service}-{n}.raw"
                for n in range(1, len(self.pids.get(service, [])) + 1)]

    def start(self) -> None:
        spy = py_spy()
        self.directory.mkdir(parents=True, exist_ok=True)
        for service, pids in self.pids.items():
            for pid, path in zip(pids, self.files(service), strict=True):
                errors = path.with_suffix(".err")
                with errors.open("wb") as stderr:
                    recorder = subprocess.Popen(
                        [spy, "record", "--pid", str(pid), "--rate", str(RATE), "--format",
                         "raw", "--output", str(path), "--nonblocking"],
                        stdout=subprocess.DEVNULL, stderr=stderr)
                self.recorders.append((recorder, errors))

    def stop(self) -> None:
        """Stops every recorder; each writes its file as it stops (SIGINT, as on Ctrl-C). A
        recorder that failed is named in `failures`, with the end of what it said."""
        for recorder, _ in self.recorders:
            if recorder.poll() is None:
                recorder.send_signal(signal.SIGINT)
        for recorder, errors in self.recorders:
            try:
                code = recorder.wait(timeout=60)
            except subprocess.TimeoutExpired:
                recorder.kill()
                code = recorder.wait()
            if code not in (0, -signal.SIGINT):
                said = errors.read_text(errors="replace").strip().splitlines()
                why = next((line for line in said if line.startswith("Error")),
                           said[-1] if said else "nothing said")
                self.failures.append(f"{errors.stem}: py-spy exited with {code}: {why}")
        self.recorders.clear()

    def summary(self) -> dict[str, dict[str, float]]:
        """Each profiled service's shares, its instances' samples together."""
        found = {}
        for service in self.pids:
            if service not in HEADINGS:
                continue
            lines = [line for path in self.files(service) if path.exists()
                     for line in path.read_text(errors="replace").splitlines()]
            found[service] = shares(lines, HEADINGS[service])
        return found


def summary_table(summary: Mapping[str, Mapping[str, float]]) -> str:
    """The shares as text, one block per service."""
    blocks = []
    for service, found in summary.items():
        rows = [f"{100 * share:5.1f} %  {heading}" for heading, share in found.items()]
        blocks.append("\n".join([service, *rows] if rows else [service, "  no samples"]))
    return "\n\n".join(blocks)
