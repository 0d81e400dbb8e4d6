"""One item's path through the domain: every entry into a module of `services.domain`.

`path(kind)` applies the items that come before (each in its own unit of work, saved), then the
item of that kind in a unit of work of its own, and lists each call that enters a module of
`services.domain` from another one (the first from outside: the processor). Frames of
libraries and of `events/` are transparent: the wallet recording an event through the
customer's `trigger_event`, which the library applies to `Customer.when`, counts as an entry
from `points` into `customer`. The item's aggregates are fetched before it is applied, as the
processor fetches them (`services.adapters.prefetch.needed_ids`); an aggregate the item needs
that the processor does not fetch (the indexes of the contacts a customer gives up) is loaded
while it is traced, so its replay counts too. The caches of `ids` are emptied first, so that an
id the prefetch did not compute counts whatever ran before.

Run `python -m tests.support.domain_path [--calls] [--no-prefetch]` to print the entries per
module (and each call).
"""

import json
import sys
from collections import Counter
from collections.abc import Callable
from types import FrameType
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from services import bootstrap
from services.adapters.prefetch import needed_ids
from services.contract.mapping import command_of
from services.contract.validation import ValidationRules, validate_command
from services.domain import UnitOfWork, ids
from services.domain.commands import Command

DOMAIN = "services.domain"
FIRST, SECOND, THIRD = (f"9803d32e-8fcd-4984-a736-9f02f726b3c{n}" for n in range(3))


def item(command: dict[str, Any]) -> Command:
    """The one item of an organiser's command, as stage 1 hands it to the processor."""
    validated = validate_command(json.dumps(command).encode(), command_id="c",
                                 programme="default", rules=ValidationRules())
    (valid,) = validated.items
    return command_of(valid)


def add(guid: str, phone: str, email: str, message: str) -> Command:
    return item({"typeOfCommand": "addCustomerPointMessage", "add": [{
        "guid": guid, "uniqId": "u1", "phone": phone, "email": email, "amount": "5",
        "eventId": "e", "eventDate": "2015-01-01T00:00:00+03", "eventType": "operation",
        "message": message}]})


def created() -> Command:
    """The customer u1 with a phone and an address, 5 points and a message."""
    return add(FIRST, "+79161234567", "a@b.org", "hi")


def new_contacts() -> Command:
    """5 more points and a message for u1, with another phone and another address."""
    return add(SECOND, "+79161234568", "c@b.org", "hi2")


def reversal() -> Command:
    return item({"typeOfCommand": "reverseBonus", "reverse": [{
        "guid": SECOND, "uniqId": "u1", "originalGuid": FIRST, "amount": "2", "eventId": "r",
        "eventDate": "2015-01-02T00:00:00+03"}]})


def spend() -> Command:
    return item({"typeOfCommand": "spendBonus", "spend": [{
        "guid": SECOND, "uniqId": "u1", "amount": "2", "eventId": "s",
        "eventDate": "2015-01-02T00:00:00+03"}]})


def cancel() -> Command:
    return item({"typeOfCommand": "cancelSpend", "cancel": [{
        "guid": THIRD, "uniqId": "u1", "originalGuid": SECOND}]})


def block() -> Command:
    return item({"typeOfCommand": "blockCustomers", "customers": [{
        "guid": SECOND, "uniqId": "u1", "reason": "fraud"}]})


def login() -> Command:
    return item({"typeOfCommand": "authorizeCustomer", "customers": [{
        "guid": SECOND, "uniqId": "u1", "method": "self"}]})


KINDS: dict[str, tuple[tuple[Callable[[], Command], ...], Callable[[], Command]]] = {
    "add": ((created,), new_contacts),
    "add, new customer": ((), created),
    "reverseBonus": ((created,), reversal),
    "spendBonus": ((created,), spend),
    "cancelSpend": ((created, spend), cancel),
    "blockCustomers": ((created,), block),
    "authorizeCustomer": ((created,), login),
}
"""Each traced kind of item: the items applied before it, and the item."""

Entry = tuple[str, str, str]
"""(the module it came from, the module it entered, the function), without `services.domain.`"""


def path(kind: str, prefetch: bool = True) -> list[Entry]:
    """Every entry into a module of the domain while one item of `kind` is applied (without
    `prefetch`, every aggregate is loaded, and replayed, while it is traced)."""
    before, traced = KINDS[kind]
    store = bootstrap.in_memory_event_store()
    for number, earlier in enumerate(before):
        work = UnitOfWork(store.load)
        work.apply(earlier(), f"loyalty.items:0:{number}")
        store.save(*work.pending())
    subject = traced()
    for cached in (ids.customer_id, ids.phone_id, ids.email_id, ids.item_id):
        cached.cache_clear()
    fetched = {aggregate_id: store.load(aggregate_id)
               for aggregate_id in (needed_ids([subject]) if prefetch else ())}

    def load(aggregate_id: UUID) -> Aggregate | None:
        return fetched[aggregate_id] if aggregate_id in fetched else store.load(aggregate_id)

    work = UnitOfWork(load)
    entries: list[Entry] = []

    def profile(frame: FrameType, event: str, _: Any) -> None:
        callee = frame.f_globals.get("__name__", "")
        if event == "call" and callee.startswith(DOMAIN):
            caller = domain_caller(frame)
            if caller != callee:
                entries.append((short(caller), short(callee), frame.f_code.co_name))

    sys.setprofile(profile)
    try:
        answer = work.apply(subject, "loyalty.items:0:99")
    finally:
        sys.setprofile(None)
    assert answer is not None and answer.rejection is None, answer
    return entries


def domain_caller(frame: FrameType) -> str:
    """The nearest module of the domain up the stack ("" when the call came from outside)."""
    caller = frame.f_back
    while caller is not None:
        name = caller.f_globals.get("__name__", "")
        if name.startswith(DOMAIN):
            return str(name)
        caller = caller.f_back
    return ""


def short(module: str) -> str:
    return module.removeprefix(f"{DOMAIN}.")


def per_module(entries: list[Entry]) -> dict[str, int]:
    """Entries by the module entered."""
    return dict(Counter(entered for _, entered, _ in entries))


if __name__ == "__main__":
    for name in KINDS:
        traced = path(name, prefetch="--no-prefetch" not in sys.argv)
        counts = sorted(per_module(traced).items(), key=lambda count: (-count[1], count[0]))
        print(f"{name}: {len(traced)}", ", ".join(f"{module} {n}" for module, n in counts))
        if "--calls" in sys.argv:
            for caller, entered, function in traced:
                print(f"    {caller or '(processor)'} -> {entered}.{function}")
