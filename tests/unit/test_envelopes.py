"""`loyalty.items` envelopes: stage 1 puts a command's items that belong to one partition in one
record, and the processor reads each item back with a position of its own."""

import json
from collections import defaultdict

from services.adapters import kafka
from services.adapters.kafka import Record
from services.contract.topics import ENVELOPE_HEADER, item_key
from services.domain.commands import AddBonus
from services.intake.worker import envelopes
from services.processor.batches import last_positions
from services.processor.consumer import decode
from tests.support.items import PARTITIONS, accruals, consumed, spoiled_envelope

TOPIC = "loyalty.items"


def partition_of(key: bytes | None) -> int:
    return kafka.partition_of(key, PARTITIONS)


def guids(record: Record) -> list[str]:
    return [item["guid"] for item in json.loads(record.value or b"")["items"]]


def test_a_commands_items_travel_one_record_per_partition_each_on_its_customers_partition(
) -> None:
    items = accruals(customers=40, per_customer=2)

    records = envelopes(items, TOPIC, PARTITIONS)

    partitions = [partition_of(record.key) for record in records]
    assert sorted(partitions) == sorted(set(partitions)) and len(records) > 1
    for record in records:
        assert (ENVELOPE_HEADER, b"2") in record.headers
        carried = json.loads(record.value or b"")["items"]
        assert {partition_of(item_key(i["programme"], i["uniqId"])) for i in carried} == {
            partition_of(record.key)}
    by_partition: dict[int, list[str]] = defaultdict(list)
    for item in items:
        by_partition[partition_of(item_key(item.programme, item.uniq_id))].append(item.guid)
    assert {partition_of(record.key): guids(record) for record in records} == by_partition


def test_an_envelope_that_would_pass_the_limit_is_closed_and_the_order_kept() -> None:
    items = accruals(customers=1, per_customer=30)
    size = len(items[0].to_json())

    records = envelopes(items, TOPIC, PARTITIONS, limit=size * 4)

    assert len(records) == 10
    assert all(len(record.value or b"") < size * 4 + 100 for record in records)
    assert [guid for record in records for guid in guids(record)] == [i.guid for i in items]


def test_the_processor_reads_each_item_of_an_envelope_at_a_position_of_its_own() -> None:
    items = accruals(customers=1, per_customer=3)
    (record,) = envelopes(items, TOPIC, PARTITIONS)

    read = decode(consumed(record, offset=41), topic_id="t-id")

    assert [str(one.position) for one in read] == [
        f"{TOPIC}:3:41/{n}@t-id" for n in range(3)]
    assert [one.final for one in read] == [False, False, True]
    assert all(isinstance(one.item, AddBonus) for one in read)
    assert [one.item.guid for one in read if one.item] == [i.guid for i in items]
    assert last_positions(read) == [read[-1].position]
    assert last_positions(read[:2]) == []  # an envelope half done stores no position


def test_a_record_without_the_envelope_header_is_one_item_as_before() -> None:
    (item,) = accruals(customers=1)
    plain = Record(TOPIC, item_key(item.programme, item.uniq_id), item.to_json())

    (read,) = decode(consumed(plain, offset=7), topic_id=None)

    assert str(read.position) == f"{TOPIC}:3:7" and read.final
    assert isinstance(read.item, AddBonus) and read.item.guid == item.guid
    assert read.letter_origin() == read.origin


def test_a_dead_letter_about_an_envelopes_item_keeps_that_item_alone() -> None:
    items = accruals(customers=2)
    (record,) = envelopes(items[:1], TOPIC, PARTITIONS)

    (read,) = decode(consumed(record, offset=5), topic_id=None)
    origin = read.letter_origin()

    assert json.loads(origin.value or b"") == json.loads(items[0].to_json())
    assert origin.key == item_key("default", "u-0")
    assert ENVELOPE_HEADER not in dict(origin.headers)
    assert (origin.topic, origin.partition, origin.offset) == (TOPIC, 3, 5)


def test_an_envelope_with_one_broken_item_keeps_the_others_readable() -> None:
    items = accruals(customers=3)
    broken = spoiled_envelope(items, 1, "accrual", "garbage")

    read = decode(consumed(broken, offset=9), topic_id=None)

    assert [one.item is None for one in read] == [False, True, False]
    assert read[1].problem is not None and "accrual" in read[1].problem
    assert json.loads(read[1].origin.value or b"")["guid"] == items[1].guid
    assert [str(one.position) for one in read] == [f"{TOPIC}:3:9/{n}" for n in range(3)]
    assert [one.final for one in read] == [False, False, True]


def test_a_salvaged_item_is_keyed_as_its_own_record_would_be() -> None:
    items = accruals(customers=2)
    broken = spoiled_envelope(items, 0, "accrual", "garbage", key=b"first")

    read = decode(consumed(broken, offset=9), topic_id=None)

    assert [one.origin.key for one in read] == [item_key("default", "u-0"),
                                                item_key("default", "u-1")]


def test_an_envelope_that_cannot_be_read_at_all_is_one_unreadable_record() -> None:
    items = [json.loads(item.to_json()) for item in accruals(customers=1)]
    later = json.dumps({"version": 3, "items": [{**items[0], "accrual": "other"}]}).encode()
    for value in (b"\xff", b'{"version": 2, "items": []}', b"[1, 2]", b'{"version": 3}', later):
        garbage = Record(TOPIC, None, value, [(ENVELOPE_HEADER, b"2")])

        (read,) = decode(consumed(garbage, offset=2), topic_id=None)

        assert read.item is None and read.final and read.problem
        assert str(read.position) == f"{TOPIC}:3:2" and read.origin.value == value
