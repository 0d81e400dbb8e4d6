"""A mixed workload of every kind of item for two programmes, recorded as the processor does."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.adapters.event_store import EventStore
from services.contract.commands import CommandType, WorkItem
from services.contract.mapping import command_of
from services.domain import UnitOfWork
from services.domain.commands import Accrual, Message

PROGRAMMES = ("alpha", "beta")
CUSTOMERS_PER_PROGRAMME = 300
BATCH = 200


def add_item(rng: random.Random, programme: str, n: int, serial: int) -> WorkItem:
    """An add item for customer n: points mostly, a message sometimes, shared phones rarely."""
    amount = Decimal(rng.randint(0, 50_000)) / 100 if rng.random() < 0.8 else None
    accrual = None if not amount else Accrual(
        amount=amount, event_id=f"e{serial}", event_type="operation",
        event_date=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=serial),
        operation_type="purchase", operation_amount=Decimal("12.3456"),
        merchant_name="TZUM", bank_product="Gold card", mcc="Petrol station", info="i")
    message = Message(text=f"hello {n}", show_count=2) if rng.random() < 0.3 else None
    return WorkItem(
        command_id=f"cmd{serial // 50}",
        type_of_command=rng.choice(list((CommandType.ADD_CUSTOMER_POINT_MESSAGE,
                                         CommandType.ADD_BONUS_EXT_QUICK))),
        programme=programme, guid=f"{programme}-g{serial}", uniq_id=f"u{n}",
        phone=f"+7916{rng.randint(0, 2 * CUSTOMERS_PER_PROGRAMME):07d}",
        email=f"u{n % 50}@example.org" if rng.random() < 0.5 else None,
        accrual=accrual, message=message)


def status_item(rng: random.Random, programme: str, n: int, serial: int) -> WorkItem:
    """A block, activation or login of customer n (who may not exist)."""
    kind = rng.choice([CommandType.BLOCK_CUSTOMERS, CommandType.ACTIVATE_CUSTOMERS,
                       CommandType.AUTHORIZE_CUSTOMER])
    return WorkItem(command_id=f"cmd{serial // 50}", type_of_command=kind, programme=programme,
                    guid=f"{programme}-g{serial}", uniq_id=f"u{n}", reason="fraud",
                    method="link" if kind is CommandType.AUTHORIZE_CUSTOMER else None)


def workload(seed: int = 7) -> list[WorkItem]:
    """Every kind of item of every programme, interleaved, with a few reused guids."""
    rng = random.Random(seed)
    items: list[WorkItem] = []
    for serial in range(len(PROGRAMMES) * CUSTOMERS_PER_PROGRAMME * 2):
        programme = PROGRAMMES[serial % len(PROGRAMMES)]
        n = rng.randrange(CUSTOMERS_PER_PROGRAMME)
        maker = add_item if rng.random() < 0.75 else status_item
        items.append(maker(rng, programme, n, serial))
    reused = [item.model_copy(update={"uniq_id": "someone-else"}) for item in items[:5]]
    return items + reused + items[5:8]  # reused guids, then resent items


def record(store: EventStore, items: list[WorkItem]) -> None:
    """Processes the items as the processor does: batches, one atomic save each."""
    for start in range(0, len(items), BATCH):
        work = UnitOfWork(store.load)
        for offset, item in enumerate(items[start:start + BATCH]):
            work.apply(command_of(item), f"loyalty.items:0:{start + offset}")
        store.save(*work.pending())
