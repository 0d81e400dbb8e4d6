"""One item's path through the domain stays straight: each kind of item enters each module of
`services.domain` no more often than its budget here.

What is counted (`tests.support.domain_path`): every call that enters a module of the domain
from another module of the domain, or from outside (the processor calling the unit of work);
library frames are transparent, so the wallet recording an event that the library applies to
`Customer.when` counts as an entry into `customer` from `points`. The item's aggregates are
fetched before it is applied, as the processor fetches them.

Why some modules are entered more than once:
- `identity_map`: once per aggregate the item loads or creates (its outcome, its customer, the
  indexes an add touches) and once per remembered creation; it is the unit of work's memory.
- `customer`, `points`: one decision each; then every points event the wallet records enters
  `Customer.when` and goes back to `Wallet.apply`, which applies it (record, then apply, as
  every replay applies it). A new customer also builds its wallet.
- `answers`: the unit of work builds the answer; the outcome stores it and rebuilds it from
  its event (the event is what a replay answers from); a login's shown messages count too.
- `indexes`: one move per contact an add changes, and the replay of the indexes of the
  contacts the customer gives up, which the processor does not fetch ahead.
- `ids`: ids the processor did not compute ahead (a message's, those given-up indexes').
"""

import pytest

from tests.support.domain_path import KINDS, path, per_module

ONE_CUSTOMER = {"unit_of_work": 1, "identity_map": 3, "handlers": 1, "customer": 2, "points": 2,
                "answers": 3, "outcomes": 1}

BUDGETS = {
    "add": {"unit_of_work": 1, "identity_map": 6, "add_bonus": 1, "customer": 2, "points": 2,
            "indexes": 6, "ids": 3, "answers": 3, "outcomes": 1},
    "add, new customer": {"unit_of_work": 1, "identity_map": 6, "add_bonus": 1, "customer": 3,
                          "points": 3, "indexes": 2, "ids": 1, "answers": 3, "outcomes": 1},
    "reverseBonus": ONE_CUSTOMER,
    "spendBonus": ONE_CUSTOMER,
    "cancelSpend": ONE_CUSTOMER,
    "blockCustomers": {**ONE_CUSTOMER, "customer": 1, "points": 0},
    "authorizeCustomer": {**ONE_CUSTOMER, "customer": 1, "points": 0, "answers": 5},
}
"""The most entries into each module for one item of each kind (was, for an add: 45, of which
identity_map 10, indexes 8, points 7, customer 6, contacts 3)."""


def test_every_traced_kind_has_a_budget() -> None:
    assert BUDGETS.keys() == KINDS.keys()


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_item_enters_each_domain_module_within_its_budget(kind: str) -> None:
    entries = path(kind)

    over = {module: (count, BUDGETS[kind].get(module, 0))
            for module, count in per_module(entries).items()
            if count > BUDGETS[kind].get(module, 0)}
    assert not over, f"entries (counted, budget) over the budget: {over}; path: {entries}"


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_processor_enters_the_domain_once_and_through_the_unit_of_work(kind: str) -> None:
    entries = path(kind)

    assert [entry for entry in entries if entry[0] == ""] == [("", "unit_of_work", "apply")]
