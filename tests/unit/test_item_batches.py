"""The processor's loop over a poll's items: at most `LOYALTY_PROCESSOR_BATCH_SIZE` items to a
transaction however many records the poll held, every item once and in order, and an item
that cannot be applied given up alone. The processing itself is stood in for (its behaviour
against PostgreSQL is tests/integration/test_processor.py); what is tested is the loop."""

import asyncio
from collections.abc import Sequence
from typing import Any

from services import bootstrap
from services.adapters.dead_letters import DeadLetter, Origin
from services.adapters.positions import Position
from services.processor.batches import ItemRecord, Poisoned
from services.processor.consumer import ItemConsumer
from services.settings import Settings

TOPIC = "loyalty.items"


class Processing:
    """Takes every item but the `poisoned` ones; remembers each transaction's items."""

    def __init__(self, poisoned: set[int]) -> None:
        self.poisoned = poisoned
        self.transactions: list[list[int]] = []
        self.failed: list[int] = []

    def process(self, records: Sequence[ItemRecord]) -> tuple[int, Poisoned | None]:
        taken = []
        for n, record in enumerate(records):
            if record.position.index in self.poisoned:
                self.transactions.append(taken)
                return n, Poisoned(record, "ValueError: no", attempts=3)
            taken.append(record.position.index or 0)
        self.transactions.append(taken)
        return len(records), None

    def dead_letter(self, poisoned: Poisoned) -> DeadLetter:
        return DeadLetter(poisoned.record.origin, "processor", poisoned.error)

    def fail(self, poisoned: Poisoned) -> None:
        self.failed.append(poisoned.record.position.index or 0)


class Producer:
    def __init__(self) -> None:
        self.sent: list[bytes | None] = []

    async def send_and_wait(self, topic: str, value: bytes | None, **_: Any) -> None:
        self.sent.append(value)


def items(count: int) -> list[ItemRecord]:
    """A poll of envelopes of 7 items each: `count` items in all."""
    return [ItemRecord(object(), Position(TOPIC, 0, n // 7, index=n),  # type: ignore[arg-type]
                       Origin(TOPIC, 0, n // 7, value=str(n).encode()), final=n % 7 == 6)
            for n in range(count)]


def run(count: int, poisoned: set[int]) -> tuple[Processing, Producer, bool]:
    settings = Settings(processor_batch_size=10)
    processing, producer = Processing(poisoned), Producer()
    loop = ItemConsumer(settings, processing, bootstrap.metrics("processor"),  # type: ignore[arg-type]
                        bootstrap.watchdog("processor", settings), consumer=lambda: None,  # type: ignore[arg-type,return-value]
                        dead_letters=lambda: producer)  # type: ignore[arg-type,return-value]
    finished = asyncio.run(loop.process(None, producer, items(count)))  # type: ignore[arg-type]
    return processing, producer, finished


def test_a_poll_of_envelopes_is_saved_in_transactions_of_at_most_the_batch_size() -> None:
    processing, producer, finished = run(35, poisoned=set())

    assert finished and producer.sent == []
    assert [len(taken) for taken in processing.transactions] == [10, 10, 10, 5]
    assert [n for taken in processing.transactions for n in taken] == list(range(35))


def test_an_item_that_cannot_be_applied_in_a_later_transaction_is_given_up_alone() -> None:
    processing, producer, finished = run(35, poisoned={13, 14})

    assert finished
    assert [n for taken in processing.transactions for n in taken] == [
        n for n in range(35) if n not in (13, 14)]
    assert processing.failed == [13, 14] and producer.sent == [b"13", b"14"]
    assert max(len(taken) for taken in processing.transactions) <= 10
