"""The read model `lots` folds the events into the same lots the customer's wallet holds.

The lots' SQL (projections/lots.py) applies to each row the amounts the events carry; the one
amount a `SpendCancelled` does not carry, how much of each share goes back to a lot's points,
it takes from the row the way `Lot.given_back` takes it from the lot: at most what was spent
from it. Here every change of a lot happens, a cancel whose shares a lot takes back in part
among them, and every row is compared with the wallet's lot (docs/points.md, "Read models").
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from projections.lots import TABLE
from services import bootstrap
from services.domain import ids
from services.domain.points import Lot
from services.settings import Settings
from tests.conftest import scratch_database
from tests.support.domain import NOW, World, cancel, earn, reverse, spend

pytestmark = pytest.mark.integration

CUSTOMERS = ("debtor", "expiring", "pending")


def points_of_every_kind(world: World) -> None:
    """Debt from reversed spends, a pending lot repaying it, a cancel taken back partly by a
    lot and partly as debt cleared and credited, expiries, a cancel given back to an expired
    lot, which expires again."""
    world.apply(earn("debtor", "10", guid="a1", expires_at=NOW + timedelta(days=5)),
                earn("debtor", "10", guid="a2", expires_at=NOW + timedelta(days=6)))
    world.apply(spend("debtor", "15", guid="s1"))  # 10 of a1, 5 of a2
    world.apply(reverse("debtor", "a1"))  # its 10 spent points become debt
    world.apply(reverse("debtor", "a2", "7"))  # 5 remaining, 2 spent points become debt
    world.apply(earn("debtor", "4", guid="p1", available_from=NOW + timedelta(hours=1)))
    world.apply(earn("debtor", "1", guid="a3"))  # repays 1 of the debt at once
    world.now += timedelta(hours=2)
    world.settle("debtor")  # p1 becomes active and repays 4 of the debt
    world.apply(cancel("debtor", "s1"))  # a2 takes 3 back; 12 clear the debt 7, credit 5
    world.apply(earn("expiring", "5", guid="e1", expires_at=world.now + timedelta(days=1)))
    world.apply(spend("expiring", "3", guid="s2"))
    world.apply(earn("pending", "6", guid="q1", available_from=world.now + timedelta(hours=1),
                     expires_at=world.now + timedelta(hours=2)),
                earn("pending", "2", guid="q2", available_from=world.now + timedelta(days=9)))
    world.now += timedelta(days=2)
    world.settle("expiring")  # e1's other 2 points expire
    world.settle("pending")  # q1 becomes active, then expires; q2 is still pending
    world.apply(cancel("expiring", "s2"))  # back to e1, which expires again


@pytest.fixture(scope="module")
def folded(postgres_server_dsn: str) -> Iterator[tuple[dict[Any, Lot], dict[Any, tuple]]]:
    """The wallets' lots and the read model's rows, by (customer id, lot guid)."""
    for dsn in scratch_database(postgres_server_dsn):
        settings = Settings(postgres_dsn=dsn)
        world = World()
        world.store = bootstrap.event_store(settings, create_tables=True)
        try:
            points_of_every_kind(world)
            lots = {}
            for uniq_id in CUSTOMERS:
                customer = world.customer(uniq_id)
                assert customer is not None
                wallet = customer.wallet
                lots |= {(customer.id, lot.guid): lot
                         for lot in [*wallet.lots.values(), *wallet.closed.values()]}
        finally:
            world.store.close()
        writer = bootstrap.read_models_writer(settings, create_tables=True)
        try:
            writer.catch_up()
        finally:
            writer.close()
        with psycopg.connect(dsn) as conn:
            rows = {(row[0], row[1]): row[2:] for row in conn.execute(
                f"SELECT customer_id, lot_guid, amount, remaining, spent, state FROM {TABLE}")}
        yield lots, rows


def test_the_operations_touch_every_part_of_a_lot() -> None:
    world = World()
    points_of_every_kind(world)

    cancelled = world.events(ids.customer_id("default", "debtor"))[-1]
    assert type(cancelled).__name__ == "SpendCancelled"
    assert [(a["lot_guid"], a["amount"]) for a in cancelled.allocations] == [("a2", 5), ("a1", 10)]
    assert (cancelled.debt_cleared, cancelled.credited) == (7, 5)
    debtor, expiring, pending = (world.customer(uniq_id) for uniq_id in CUSTOMERS)
    assert debtor is not None and expiring is not None and pending is not None
    a2 = debtor.wallet.lot("a2")
    assert a2 is not None and (a2.remaining, a2.spent, a2.reversed) == (3, 0, 7)
    e1 = expiring.wallet.lot("e1")
    assert e1 is not None and e1.lapsed and e1.expired == 5
    assert [(lot.guid, lot.pending) for lot in pending.wallet.lots.values()] == [("q2", True)]


def test_every_row_of_lots_is_the_wallets_lot(
        folded: tuple[dict[Any, Lot], dict[Any, tuple]]) -> None:
    lots, rows = folded
    assert rows.keys() == lots.keys()
    for key, lot in lots.items():
        state = "expired" if lot.lapsed else "pending" if lot.pending else "active"
        assert rows[key] == (lot.amount, lot.remaining, lot.spent, state), key
