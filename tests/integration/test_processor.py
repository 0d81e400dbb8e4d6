"""The processor's batches against a real PostgreSQL event store: a record that cannot be
applied is given up alone, and positions know the topic's incarnation."""

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from events.indexes import PhoneClaimed
from services import bootstrap
from services.adapters.dead_letters import Origin
from services.adapters.event_store import EventStore
from services.adapters.positions import Position
from services.domain import ItemOutcome, PhoneIndex, ids
from services.intake.worker import envelopes
from services.processor.batches import ItemProcessor, ItemRecord
from services.processor.consumer import decode
from services.settings import Settings
from tests.conftest import scratch_database
from tests.support.domain import add
from tests.support.items import accruals, consumed, spoiled_envelope

pytestmark = pytest.mark.integration

TOPIC = "loyalty.items"


@pytest.fixture
def store(postgres_server_dsn: str) -> Iterator[EventStore]:
    for dsn in scratch_database(postgres_server_dsn):
        opened = bootstrap.event_store(Settings(postgres_dsn=dsn), create_tables=True)
        yield opened
        opened.close()


def at(offset: int, item: object, topic_id: str | None = None) -> ItemRecord:
    position = Position(TOPIC, 0, offset, topic_id)
    return ItemRecord(item, position, Origin(TOPIC, 0, offset, value=b"{}"))  # type: ignore[arg-type]


def answer_of(store: EventStore, guid: str) -> str | None:
    outcome = store.load(ids.item_id("default", guid))
    return None if not isinstance(outcome, ItemOutcome) else (
        outcome.stored_answer.rejection or "Success")


def squat(store: EventStore, uniq_id: str) -> None:
    """Stores a phone index under the id the customer `uniq_id` would have: no item for that
    customer can be applied."""
    store.save(PhoneIndex._create(
        PhoneClaimed, id=ids.customer_id("default", uniq_id), programme="default",
        phone="+79160000009", customer_id=str(uuid.uuid4())))


def test_an_item_whose_id_names_another_kind_of_aggregate_is_given_up_alone(
    store: EventStore,
) -> None:
    squat(store, "victim")
    processor = ItemProcessor(store)
    first, victim, last = add("a", amount="1"), add("victim", amount="2"), add("b", amount="3")
    records = [at(0, first), at(1, victim), at(2, last)]

    done, poisoned = processor.process(records)

    assert done == 1 and poisoned is not None and poisoned.record is records[1]
    assert "TypeError" in poisoned.error and poisoned.attempts == 3
    assert processor.fail(poisoned) is not None
    assert processor.process(records[2:]) == (1, None)
    assert [answer_of(store, item.guid) for item in (first, victim, last)] == [
        "Success", "PROCESSING_FAILED", "Success"]
    assert store.recorder.max_tracking_id(f"kafka:{TOPIC}:0") == 3
    assert isinstance(store.load(ids.customer_id("default", "victim")), PhoneIndex)


def test_an_unreadable_record_is_given_up_and_answered_when_its_identity_can_be_read(
    store: EventStore,
) -> None:
    processor = ItemProcessor(store)
    raw = json.dumps({"programme": "default", "guid": "g-unreadable", "uniqId": "u",
                      "commandId": "c", "typeOfCommand": "addCustomerPointMessage",
                      "accrual": "garbage"}).encode()
    unreadable = ItemRecord(None, Position(TOPIC, 0, 5), Origin(TOPIC, 0, 5, value=raw),
                            problem="ValidationError: accrual")
    garbage = ItemRecord(None, Position(TOPIC, 0, 6), Origin(TOPIC, 0, 6, value=b"\xff"),
                         problem="ValidationError: not JSON")

    done, poisoned = processor.process([unreadable, garbage])
    assert (done, poisoned and poisoned.record) == (0, unreadable)
    assert poisoned is not None
    answer = processor.fail(poisoned)
    done, poisoned = processor.process([garbage])
    assert poisoned is not None and processor.fail(poisoned) is None

    assert answer is not None and answer.rejection == "PROCESSING_FAILED"
    assert answer_of(store, "g-unreadable") == "PROCESSING_FAILED"
    assert store.recorder.max_tracking_id(f"kafka:{TOPIC}:0") == 7


def test_positions_belong_to_one_incarnation_of_the_topic(store: EventStore) -> None:
    processor = ItemProcessor(store)
    processor.skip(Position(TOPIC, 0, 9))  # stored before incarnations were known

    assert processor.stored_offset(TOPIC, 0, "first-id") == 10  # the upgrade: taken over
    processor.skip(Position(TOPIC, 0, 11, "first-id"))
    assert processor.stored_offset(TOPIC, 0, "first-id") == 12
    assert processor.stored_offset(TOPIC, 0, "second-id") is None  # created anew: from 0
    assert processor.stored_offset(TOPIC, 1, "first-id") is None


def test_an_envelope_given_up_half_way_and_read_again_stores_each_item_once(
    store: EventStore,
) -> None:
    squat(store, "u-1")
    items = accruals(customers=3)  # u-1's customer id is taken: its item cannot be applied
    (envelope,) = envelopes(items, TOPIC, [0])
    records = decode(consumed(envelope, offset=20, partition=0), topic_id=None)
    processor = ItemProcessor(store)

    done, poisoned = processor.process(records)
    assert done == 1 and poisoned is not None and poisoned.record is records[1]
    assert store.recorder.max_tracking_id(f"kafka:{TOPIC}:0") is None  # half done: no position
    stored = store.recorder.max_notification_id()

    # the processor stops here, before the failure is stored; the envelope is read again
    done, poisoned = ItemProcessor(store).process(records)
    assert done == 1 and poisoned is not None and poisoned.record is records[1]
    assert store.recorder.max_notification_id() == stored  # the first item: not again
    assert processor.fail(poisoned) is not None
    assert processor.process(records[2:]) == (1, None)

    assert [answer_of(store, item.guid) for item in items] == [
        "Success", "PROCESSING_FAILED", "Success"]
    assert store.recorder.max_tracking_id(f"kafka:{TOPIC}:0") == 21
    first = store.load(ids.customer_id("default", "u-0"))
    assert first.balance == Decimal("200.00")
    alone = poisoned.record.letter_origin()  # what its dead letter seals: the item alone
    assert json.loads(alone.value or b"")["guid"] == items[1].guid


def test_an_envelope_item_no_command_is_declared_for_is_answered_alone(store: EventStore) -> None:
    items = accruals(customers=3)
    # a command type a newer intake declares and this processor does not know yet
    envelope = spoiled_envelope(items, 1, "typeOfCommand", "notDeclaredYet")
    records = decode(consumed(envelope, offset=30, partition=0), topic_id=None)
    processor = ItemProcessor(store)

    assert processor.process(records) == (1, None)  # up to the item that cannot be read
    done, poisoned = processor.process(records[1:])
    assert done == 0 and poisoned is not None and poisoned.record is records[1]
    answer = processor.fail(poisoned)
    assert processor.process(records[2:]) == (1, None)

    assert answer is not None and answer.rejection == "PROCESSING_FAILED"
    assert [answer_of(store, item.guid) for item in items] == [
        "Success", "PROCESSING_FAILED", "Success"]
    assert store.recorder.max_tracking_id(f"kafka:{TOPIC}:0") == 31
