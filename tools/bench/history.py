"""`loyalty bench history`: one customer with a long history, read with snapshots and without.

It writes one customer's events into a database of its own, a batch at a time through the
processor's save (the events, then the snapshots they made due), and times, with a store that
reads no snapshots and with one that does: loading the customer (the repository, and the
processor's prefetch for a customer it has not cached), `asOf` at an early and at a late
instant, and pages of its history: the first, a late one, and the first from the late
instant. Each figure is the median of the repeats, in milliseconds (docs/benchmarks.md,
"Snapshots").
"""

import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from services import bootstrap
from services.adapters.event_store import EventStore
from services.adapters.prefetch import AggregateCache, PrefetchedLoader
from services.api.history import EventFilter, History
from services.domain import Customer, ids
from services.domain.commands import (
    Accrual,
    AddBonus,
    Limits,
    Message,
    PointsPolicy,
    SettlePoints,
    Spend,
)
from services.settings import Settings
from tools.bench.harness import database_dsn

PROGRAMME, UNIQ_ID = "bench", "long-history"
CUSTOMER = ids.customer_id(PROGRAMME, UNIQ_ID)
AMOUNT = Decimal("12.50")
BATCH_EVENTS = 500
"""Events saved at a time (a processor's batch of 500 items, all of one customer)."""
PAGE = 100


class LongLife:
    """A customer's life through the aggregate's own methods, with the default bounds: in each
    round a spend of three lots, an accrual that expires before the next operation, three more
    accruals, a login that shows the message queued in the round before, and a message queued.
    Its open lots stay a handful; the closed lots and the spends grow to their bounds (5,000
    each), the oldest forgotten from there on, as a customer who has bought for years holds
    them."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self.customer = Customer.register(bonus(quick=True))

    def record(self, events: int) -> list[Any]:
        """Records rounds until at least `events` more events; returns them, collected."""
        goal = self.customer.version + events
        while self.customer.version < goal:
            self.live_a_round()
        return list(self.customer.collect_events())

    def live_a_round(self) -> None:
        customer, policy, limits = self.customer, PointsPolicy(), Limits()
        customer.spend(guid(), Spend(amount=3 * AMOUNT, event_id=guid(), event_date=self.now,
                                     merchant_name="Shop"), self.tick())  # refused at first
        customer.add_bonus(bonus(self.accrual(expires_at=self.now + timedelta(seconds=30))),
                           None, self.tick(), policy, limits)
        for _ in range(3):
            customer.add_bonus(bonus(self.accrual()), None, self.tick(), policy, limits)
        customer.authorize(guid(), "link", self.tick())
        customer.add_bonus(bonus(message=Message(text="Double points this weekend")), None,
                           self.now, policy, limits)

    def accrual(self, expires_at: datetime | None = None) -> Accrual:
        return Accrual(amount=AMOUNT, event_id=guid(), event_date=self.now,
                       event_type="operation", operation_type="purchase",
                       operation_amount=Decimal("125.00"), merchant_name="Shop", mcc="5411",
                       expires_at=expires_at)

    def tick(self) -> datetime:
        """The life's clock: a minute per operation (the events' own times are the machine's)."""
        self.now += timedelta(minutes=1)
        return self.now


def guid() -> str:
    return str(uuid.uuid4())


def bonus(accrual: Accrual | None = None, message: Message | None = None,
          quick: bool = False) -> AddBonus:
    """An item of the customer's programme bringing an accrual or a message."""
    return AddBonus(programme=PROGRAMME, guid=guid(), uniq_id=UNIQ_ID, command_id=guid(),
                    type_of_command="addCustomerPointMessage", fingerprint=guid(), quick=quick,
                    accrual=accrual, message=message)


@dataclass(frozen=True)
class Written:
    """The customer as written, and the seconds its batches and its snapshots took."""

    customer: Customer
    saving: float
    snapshotting: float


def write_life(store: EventStore, events: int) -> Written:
    """Saves a customer of `events` events, a batch at a time, as the processor does."""
    life, saving, snapshotting = LongLife(), 0.0, 0.0
    while life.customer.version < events:
        batch = life.record(BATCH_EVENTS)
        started = time.perf_counter()
        store.events.put(batch)
        saved = time.perf_counter()
        store.take_due_snapshots([life.customer], batch)
        saving, snapshotting = saving + saved - started, snapshotting + time.perf_counter() - saved
    return Written(life.customer, saving, snapshotting)


@dataclass(frozen=True)
class Figure:
    name: str
    without: float
    with_snapshots: float


def timed(measure: Callable[[], Any], repeats: int) -> float:
    """The median time of `measure`, in milliseconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        measure()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def readings(store: EventStore, history: History, instants: dict[str, datetime],
             events: int) -> dict[str, Callable[[], Any]]:
    """What is timed, by the name of its figure."""
    everything = EventFilter(frozenset(), None, None)
    settle = [SettlePoints(PROGRAMME, UNIQ_ID, datetime.now(UTC))]
    late_page = events - 2 * PAGE

    def as_of(instant: datetime) -> Callable[[], Any]:
        return lambda: history.as_of(PROGRAMME, UNIQ_ID, instant)

    return {
        "load: the repository (EventStore.load)": lambda: store.load(CUSTOMER),
        "load: processor's prefetch, not cached": lambda: PrefetchedLoader(
            store, AggregateCache(), settle)(CUSTOMER),
        **{f"asOf, {name}": as_of(instant) for name, instant in instants.items()},
        f"history, first page ({PAGE} events)": lambda: history.page(
            PROGRAMME, UNIQ_ID, 0, PAGE, everything),
        f"history, page after version {late_page:,}": lambda: history.page(
            PROGRAMME, UNIQ_ID, late_page, PAGE, everything),
        "history, first page from the late instant": lambda: history.page(
            PROGRAMME, UNIQ_ID, 0, PAGE, EventFilter(frozenset(), max(instants.values()), None)),
    }


@dataclass(frozen=True)
class HistoryFigures:
    """What one run wrote and measured."""

    events: int
    interval: int
    state: str
    written: Written
    snapshots: int
    snapshots_bytes: int
    latest_snapshot_bytes: int
    events_bytes: int
    figures: list[Figure]


SIZES = """SELECT (SELECT count(*) FROM loyalty_snapshots),
    pg_total_relation_size('loyalty_snapshots'),
    (SELECT octet_length(state) FROM loyalty_snapshots ORDER BY originator_version DESC LIMIT 1),
    pg_total_relation_size('loyalty_events')"""


@contextmanager
def scratch_database(owner_dsn: str, keep: bool) -> Iterator[str]:
    """A database of its own on the server of `owner_dsn`, dropped afterwards unless kept."""
    name = f"loyalty_bench_history_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_dsn(owner_dsn, name)
    finally:
        if not keep:
            with psycopg.connect(owner_dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                             .format(sql.Identifier(name)))


def instant_of(store: EventStore, version: int) -> datetime:
    (event,) = store.events.get(CUSTOMER, gt=version - 1, lte=version)
    return event.timestamp  # type: ignore[attr-defined]


def measure(settings: Settings, instants: dict[str, datetime], events: int,
            repeats: int) -> dict[str, float]:
    """Every figure with these settings (snapshots read or not), in milliseconds."""
    store = bootstrap.event_store(settings)
    history = History(lambda: bootstrap.event_store(settings))
    try:
        loaded = store.load(CUSTOMER)
        assert loaded is not None and loaded.version == events
        return {name: timed(read, repeats)
                for name, read in readings(store, history, instants, events).items()}
    finally:
        store.close()
        history.close()


def run_history_bench(events: int, interval: int, repeats: int, keep: bool) -> HistoryFigures:
    """Writes the customer into a scratch database, then measures it without snapshots and
    with them."""
    with scratch_database(Settings().postgres_owner_dsn, keep) as dsn:
        with_snapshots = Settings(postgres_dsn=dsn, postgres_owner_dsn=dsn,
                                  snapshot_interval=interval)
        without = with_snapshots.model_copy(update={"snapshot_interval": 0})
        store = bootstrap.event_store(with_snapshots, create_tables=True)
        try:
            written = write_life(store, events)
            events = written.customer.version  # whole rounds: a few events more
            versions = {"early": events // 80, "late": events - events // 80}
            instants = {f"{name} (after version {version:,})": instant_of(store, version)
                        for name, version in versions.items()}
        finally:
            store.close()
        with psycopg.connect(dsn) as conn:
            snapshots, snapshots_bytes, latest, events_bytes = conn.execute(SIZES).fetchone() \
                or (0, 0, 0, 0)
        off = measure(without, instants, events, repeats)
        on = measure(with_snapshots, instants, events, repeats)
    wallet = written.customer.wallet
    state = (f"{len(wallet.lots):,} open lots, {len(wallet.closed):,} closed lots, "
             f"{len(wallet.spends):,} spends, {len(written.customer.messages):,} messages")
    return HistoryFigures(events, interval, state, written, snapshots, snapshots_bytes,
                          latest or 0, events_bytes,
                          [Figure(name, off[name], on[name]) for name in off])


def report(run: HistoryFigures) -> str:
    """The run's figures as the text `loyalty bench history` prints."""
    mib = 1024 * 1024
    written = run.written
    lines = [
        f"one customer, {run.events:,} events ({run.state}); a snapshot every "
        f"{run.interval:,} events",
        f"events saved in {written.saving:.1f} s, {run.events_bytes / mib:,.0f} MiB; "
        f"{run.snapshots:,} snapshots taken in {written.snapshotting:.1f} s, "
        f"{run.snapshots_bytes / mib:,.0f} MiB (the latest {run.latest_snapshot_bytes / mib:,.1f} "
        "MiB)",
        "",
        f"{'median of the repeats, ms':<46}{'no snapshots':>14}{'snapshots':>12}",
        f"{'-' * 46}{'-' * 14:>14}{'-' * 12:>12}",
    ]
    lines += [f"{figure.name:<46}{figure.without:>14,.1f}{figure.with_snapshots:>12,.1f}"
              for figure in run.figures]
    return "\n".join(lines)
