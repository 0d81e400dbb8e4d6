"""The long life of `loyalty bench history`: the events a customer who buys for years records."""

from services import bootstrap
from tests.support.state import state_of
from tools.bench.history import CUSTOMER, LongLife


def test_a_long_life_records_the_customers_everyday_events_and_keeps_few_lots_open() -> None:
    life = LongLife()
    events = life.record(300)
    store = bootstrap.in_memory_event_store()
    store.events.put(events)

    assert {type(event).__name__ for event in events} >= {
        "PointsAccrued", "PointsSpent", "PointsExpired", "CustomerAuthorized", "MessageQueued",
        "MessageShown"}
    assert len(events) >= 300 and len(life.customer.wallet.lots) <= 5
    assert state_of(store.repository.get(CUSTOMER)) == state_of(life.customer)
