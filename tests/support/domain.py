"""The domain in memory: commands as stage 1 hands them over, applied and saved batch by batch.

`World.apply` runs one unit of work over a batch and saves what it recorded in an in-memory
event store built by the composition root; the next batch loads the aggregates back from the
stored events, so every test also crosses the event transcoder.
"""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from services import bootstrap
from services.domain import Answer, Customer, EmailIndex, PhoneIndex, Rejection, UnitOfWork, ids
from services.domain.commands import (
    Accrual,
    ActivateCustomer,
    AddBonus,
    AuthorizeCustomer,
    BlockCustomer,
    Cancel,
    CancelSpend,
    Command,
    EraseCustomer,
    Limits,
    Message,
    PointsPolicy,
    Reversal,
    ReverseBonus,
    RevokeLinks,
    SettlePoints,
    Spend,
    SpendBonus,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PHONE_A = "+79161234567"
PHONE_B = "+79167654321"
PHONE_C = "+79160000000"


class World:
    """An in-memory event store and the units of work applied to it, one per batch."""

    def __init__(self, policy: PointsPolicy | None = None, limits: Limits | None = None) -> None:
        self.store = bootstrap.in_memory_event_store()
        self.now = NOW
        self.offset = 0
        self.policy = policy or PointsPolicy()
        self.limits = limits or Limits()

    def apply(self, *items: Command) -> list[Answer | None]:
        """Applies a batch at the next positions and saves it atomically."""
        return self.apply_at([(item, self.next_position()) for item in items])

    def apply_at(self, batch: list[tuple[Command, str]]) -> list[Answer | None]:
        work = self.unit_of_work()
        answers = [work.apply(item, position) for item, position in batch]
        self.store.save(*work.pending())
        return answers

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.store.load, clock=lambda: self.now,
                          policies=lambda _: self.policy, limits=self.limits)

    def settle(self, uniq_id: str, at: datetime | None = None) -> None:
        """The service's clock for one customer, at `at` (now by default)."""
        work = self.unit_of_work()
        work.settle(SettlePoints("default", uniq_id, at or self.now))
        self.store.save(*work.pending())

    def one(self, item: Command) -> Answer:
        """Applies one item in a batch of its own; it must yield an answer."""
        (answer,) = self.apply(item)
        assert answer is not None
        return answer

    def next_position(self) -> str:
        self.offset += 1
        return f"loyalty.items:0:{self.offset}"

    def customer(self, uniq_id: str, programme: str = "default") -> Customer | None:
        found = self.store.load(ids.customer_id(programme, uniq_id))
        assert found is None or isinstance(found, Customer)
        return found

    def phone_owner(self, phone: str, programme: str = "default") -> str | None:
        index = self.store.load(ids.phone_id(programme, phone))
        assert index is None or isinstance(index, PhoneIndex)
        return None if index is None else index.owner

    def email_holders(self, email: str, programme: str = "default") -> list[str]:
        index = self.store.load(ids.email_id(programme, email))
        assert index is None or isinstance(index, EmailIndex)
        return [] if index is None else index.holders

    def events(self, aggregate_id: UUID) -> list[Any]:
        return list(self.store.events.get(aggregate_id))

    def event_names(self, uniq_id: str, programme: str = "default") -> list[str]:
        return [type(e).__name__ for e in self.events(ids.customer_id(programme, uniq_id))]

    def stored_event_count(self) -> int:
        return self.store.recorder.max_notification_id() or 0


def accrual(amount: str = "100.00", **fields: Any) -> Accrual:
    return Accrual(
        amount=Decimal(amount),
        event_id=fields.pop("event_id", "ev-1"),
        event_date=fields.pop("event_date", datetime(2024, 4, 30, tzinfo=UTC)),
        event_type=fields.pop("event_type", "operation"),
        **fields,
    )


def identity(uniq_id: str, guid: str | None, programme: str, type_of_command: str,
             content: Any) -> dict[str, Any]:
    """What every item carries; the fingerprint is a digest of the item's content."""
    guid = guid or str(uuid.uuid4())
    digest = hashlib.sha256(repr((programme, guid, uniq_id, type_of_command, content)).encode())
    return {"programme": programme, "guid": guid, "uniq_id": uniq_id,
            "command_id": f"cmd-{uuid.uuid4()}", "type_of_command": type_of_command,
            "fingerprint": digest.hexdigest()}


def add(
    uniq_id: str,
    *,
    guid: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    amount: str | None = None,
    message: Message | None = None,
    quick: bool = False,
    programme: str = "default",
) -> AddBonus:
    """An AddBonus item as stage 1 hands it over (addBonusExtQuick when `quick`)."""
    points = None if amount is None else accrual(amount)
    name = "addBonusExtQuick" if quick else "addCustomerPointMessage"
    content = (phone, email, points, message)
    return AddBonus(**identity(uniq_id, guid, programme, name, content), quick=quick,
                    phone=phone, email=email, accrual=points, message=message)


def earn(uniq_id: str, amount: str, *, guid: str | None = None,
         event_date: datetime | None = None, available_from: datetime | None = None,
         expires_at: datetime | None = None) -> AddBonus:
    """An accrual of `amount` points with the lot's dates."""
    points = accrual(amount, event_date=event_date or NOW - timedelta(days=1),
                     available_from=available_from, expires_at=expires_at)
    return AddBonus(**identity(uniq_id, guid, "default", "addBonusExtQuick", points),
                    quick=True, accrual=points)


def reverse(uniq_id: str, original_guid: str, amount: str | None = None,
            guid: str | None = None) -> ReverseBonus:
    reversal = Reversal(original_guid=original_guid,
                        amount=None if amount is None else Decimal(amount), event_id="refund-1",
                        event_date=NOW, reason="refund")
    return ReverseBonus(**identity(uniq_id, guid, "default", "reverseBonus", reversal),
                        reversal=reversal)


def spend(uniq_id: str, amount: str, guid: str | None = None) -> SpendBonus:
    spent = Spend(amount=Decimal(amount), event_id="order-1", event_date=NOW,
                  merchant_name="Shop", info=None)
    return SpendBonus(**identity(uniq_id, guid, "default", "spendBonus", spent), spend=spent)


def cancel(uniq_id: str, original_guid: str, amount: str | None = None,
           guid: str | None = None) -> CancelSpend:
    given = Cancel(original_guid=original_guid, amount=None if amount is None else Decimal(amount))
    return CancelSpend(**identity(uniq_id, guid, "default", "cancelSpend", given), cancel=given)


def block(uniq_id: str, reason: str | None = "fraud") -> BlockCustomer:
    return BlockCustomer(**identity(uniq_id, None, "default", "blockCustomers", reason),
                         reason=reason)


def activate(uniq_id: str) -> ActivateCustomer:
    return ActivateCustomer(**identity(uniq_id, None, "default", "activateCustomers", None))


def revoke_links(uniq_id: str) -> RevokeLinks:
    return RevokeLinks(**identity(uniq_id, None, "default", "revokeLinks", None))


def erase(uniq_id: str, programme: str = "default") -> EraseCustomer:
    return EraseCustomer(**identity(uniq_id, None, programme, "eraseCustomer", None))


def authorize(uniq_id: str, method: str = "link", *, link_version: int | None = None,
              link_expires_at: datetime | None = None) -> AuthorizeCustomer:
    """A login; through the bonus window when it names the link's version (and expiry)."""
    content = (method, link_version, link_expires_at)
    return AuthorizeCustomer(**identity(uniq_id, None, "default", "authorizeCustomer", content),
                             method=method, link_version=link_version,
                             link_expires_at=link_expires_at)


def assert_error(answer: Answer | None, rejection: Rejection, login: str) -> None:
    assert answer is not None
    assert (answer.status, answer.rejection, answer.login) == ("Error", rejection, login)


def assert_success(answer: Answer | None, login: str) -> None:
    assert answer is not None
    assert (answer.status, answer.rejection, answer.login) == ("Success", None, login)


def every_event(world: World, uniq_id: str = "u1") -> None:
    """One customer's life that records every event of the published contract."""
    first = str(uuid.uuid4())
    world.apply(add(uniq_id, guid=first, phone=PHONE_A, email="Ann@Example.com",
                    amount="100.00", message=Message(text="hi", show_count=2, show_till=None)))
    world.apply(authorize(uniq_id))
    world.apply(add(uniq_id, phone=PHONE_B, email="ann@example.org"))
    world.apply(earn(uniq_id, "50.50", guid="later", available_from=NOW + timedelta(days=1),
                     expires_at=NOW + timedelta(days=10)))
    world.apply(spend(uniq_id, "30", guid="spend-1"))
    world.apply(cancel(uniq_id, "spend-1", "10"))
    world.apply(reverse(uniq_id, first, "100.00"))
    world.now += timedelta(days=2)
    world.settle(uniq_id)
    world.now += timedelta(days=20)
    world.settle(uniq_id)
    world.apply(block(uniq_id))
    world.apply(activate(uniq_id))
    world.apply(revoke_links(uniq_id))
