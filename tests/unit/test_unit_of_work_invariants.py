"""Properties of any sequence of batches: phones stay unique, the indexes agree with the
customers, and the balances add up to exactly the accepted accruals."""

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.domain import ids
from services.domain.commands import AddBonus, Command
from tests.support.domain import World, activate, add, block

UNIQ_IDS = ["a", "b", "c", "d"]
PHONES = ["+79160000001", "+79160000002", "+79160000003"]
EMAILS = ["one@example.com", "ONE@example.com", "two@example.com"]

add_items = st.builds(
    add,
    st.sampled_from(UNIQ_IDS),
    phone=st.none() | st.sampled_from(PHONES),
    email=st.none() | st.sampled_from(EMAILS),
    amount=st.none() | st.sampled_from(["1", "2.50"]),
    quick=st.booleans(),
)
status_items = st.builds(block, st.sampled_from(UNIQ_IDS)) | st.builds(
    activate, st.sampled_from(UNIQ_IDS)
)
batches = st.lists(st.lists(add_items | status_items, min_size=1, max_size=4), max_size=6)


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches)
def test_indexes_agree_with_customers_and_balances_add_up(batches: list[list[Command]]) -> None:
    world = World()
    accepted = Decimal(0)
    for batch in batches:
        for item, result in zip(batch, world.apply(*batch), strict=True):
            if (result is not None and result.status == "Success"
                    and isinstance(item, AddBonus) and item.accrual is not None):
                accepted += item.accrual.amount
        assert_indexes_agree(world)
    customers = [c for c in map(world.customer, UNIQ_IDS) if c is not None]
    assert sum((c.balance for c in customers), Decimal(0)) == accepted


def assert_indexes_agree(world: World) -> None:
    customers = [c for c in map(world.customer, UNIQ_IDS) if c is not None]
    for phone in PHONES:
        holders = [str(c.id) for c in customers if c.phone == phone]
        assert len(holders) <= 1
        assert world.phone_owner(phone) == (holders[0] if holders else None)
    for email in {e.lower() for e in EMAILS}:
        sharing = {str(c.id) for c in customers if c.email and c.email.lower() == email}
        indexed = world.email_holders(email)
        assert len(indexed) == len(set(indexed))
        assert set(indexed) == sharing
    for customer in customers:
        assert customer.id == ids.customer_id("default", customer.uniq_id)
