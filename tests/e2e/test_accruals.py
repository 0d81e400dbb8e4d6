"""addCustomerPointMessage and addBonusExtQuick end to end, through real Kafka and PostgreSQL."""

import asyncio
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from services.adapters.dead_letters import DeadLetter
from services.adapters.personal_data import KeyRing, MasterKeys, PostgresKeys, opened_letter
from services.contract.topics import item_key
from services.settings import Settings
from tests.support.commands import accrual, add, outcome, phone, unique
from tests.support.contracts import dead_letter_problems, planted
from tests.support.pipeline import Organiser, Pipeline, read_all
from tests.support.seed import SEED_GUID, SEED_REQUEST
from tests.support.store import customer, event_names

pytestmark = pytest.mark.e2e



def test_the_seed_request_verbatim_is_accepted_processed_and_stored(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    command_id = organiser.send(SEED_REQUEST)
    guid = SEED_GUID

    stage1 = organiser.validation(command_id)
    assert stage1["results"] == [
        {"login": "12345678", "guid": guid, "status": "Success", "error": None}
    ]
    stage2 = outcome(organiser, guid)
    assert (stage2["status"], stage2["login"], stage2["error"]) == ("Success", "12345678", None)
    assert stage2["commandId"] == command_id
    stored = customer(pipeline.dsn, "12345678")
    assert stored.balance == Decimal("200.00")
    names = event_names(pipeline.dsn, "12345678")
    assert names[0] == "CustomerCreated"
    assert {"PointsAccrued", "MessageQueued", "CustomerActivated"} <= set(names)


def test_a_new_phone_of_another_customer_is_refused_and_nothing_accrued_faq3(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    alice, bob = unique("alice"), unique("bob")
    alice_phone, bob_phone, new_phone = phone(), phone(), phone()
    first = [accrual(alice, phone=alice_phone), accrual(bob, phone=bob_phone)]
    organiser.send(add(*first))
    assert all(outcome(organiser, item["guid"])["status"] == "Success" for item in first)

    taken = accrual(alice, "5.00", phone=bob_phone)
    organiser.send(add(taken))
    refused = outcome(organiser, taken["guid"])
    assert refused["error"]["code"] == "PHONE_BELONGS_TO_ANOTHER_CUSTOMER"
    assert (customer(pipeline.dsn, alice).balance, customer(pipeline.dsn, alice).phone) == (
        Decimal("10.00"), alice_phone)

    free = accrual(alice, "5.00", phone=new_phone)
    organiser.send(add(free))
    assert outcome(organiser, free["guid"])["status"] == "Success"
    assert (customer(pipeline.dsn, alice).balance, customer(pipeline.dsn, alice).phone) == (
        Decimal("15.00"), new_phone)


def test_a_new_uniq_id_with_a_taken_phone_creates_nobody_faq4(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    owner, newcomer, taken_phone = unique("owner"), unique("newcomer"), phone()
    created = accrual(owner, phone=taken_phone)
    organiser.send(add(created))
    assert outcome(organiser, created["guid"])["status"] == "Success"

    refused = accrual(newcomer, phone=taken_phone.replace("+7", "8"))
    organiser.send(add(refused))
    assert outcome(organiser, refused["guid"])["error"]["code"] == (
        "PHONE_BELONGS_TO_ANOTHER_CUSTOMER")
    assert customer(pipeline.dsn, newcomer) is None
    assert customer(pipeline.dsn, owner).balance == Decimal("10.00")


def test_a_shared_email_replaces_the_old_one_faq5_and_finds_its_holder_faq7(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    first, second, newcomer = unique("first"), unique("second"), unique("newcomer")
    shared = f"{unique('shared')}@example.com"
    holder = accrual(first, email=shared)
    organiser.send(add(holder))
    assert outcome(organiser, holder["guid"])["status"] == "Success"

    changed = accrual(second, email="old@example.com")
    organiser.send(add(changed))
    outcome(organiser, changed["guid"])
    sharing = accrual(second, "1.00", email=shared.upper())
    organiser.send(add(sharing))
    assert outcome(organiser, sharing["guid"])["status"] == "Success"
    assert customer(pipeline.dsn, second).email.lower() == shared.lower()

    found = accrual(newcomer, "7.00", email=shared)
    organiser.send(add(found))
    result = outcome(organiser, found["guid"])
    assert (result["status"], result["login"]) == ("Success", first)
    assert customer(pipeline.dsn, newcomer) is None
    assert customer(pipeline.dsn, first).balance == Decimal("17.00")


def test_add_bonus_ext_quick_creates_active_customers(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    quick = unique("quick")
    item = {"guid": str(uuid.uuid4()), "uniqId": quick}
    organiser.send(add(item, command="addBonusExtQuick"))
    assert outcome(organiser, item["guid"])["status"] == "Success"
    assert str(customer(pipeline.dsn, quick).status) == "Active"


def test_the_same_command_twice_changes_nothing_and_yields_identical_results(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    twice = unique("twice")
    command = add(accrual(twice, "3.00"), accrual(twice, "4.00"))
    organiser.send(command)
    organiser.send(command)
    for item in command["add"]:
        first, again = organiser.processing(item["guid"], count=2)
        assert first == again
    assert customer(pipeline.dsn, twice).balance == Decimal("7.00")


def test_a_reused_guid_with_other_content_is_a_duplicate(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    reused = unique("reused")
    original = accrual(reused, "2.00")
    organiser.send(add(original))
    assert outcome(organiser, original["guid"])["status"] == "Success"

    organiser.send(add({**original, "amount": "2000.00"}))
    duplicate = organiser.processing(original["guid"], count=2)[1]
    assert duplicate["error"]["code"] == "DUPLICATE_GUID"
    assert customer(pipeline.dsn, reused).balance == Decimal("2.00")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\x00\xff garbage \xfe", "INVALID_JSON"),
        (b"[1, 2, 3]", "INVALID_JSON"),
        (b'{"typeOfCommand": "stealPoints", "add": []}', "UNKNOWN_COMMAND"),
        (b'{"typeOfCommand": "addCustomerPointMessage", "add": ['
         + b",".join([b'{"guid": "%s", "uniqId": "u"}' % str(uuid.uuid4()).encode()] * 1001)
         + b"]}", "TOO_MANY_ITEMS"),
        (b'{"typeOfCommand": "addCustomerPointMessage", "add": [], "pad": "'
         + b"x" * (2 * 1024 * 1024) + b'"}', "PAYLOAD_TOO_LARGE"),
    ],
    ids=["garbage", "not-an-object", "unknown", "1001-items", "2MiB"],
)
def test_bad_records_get_an_error_and_the_next_record_is_processed(
    organiser: Organiser, pipeline: Pipeline, payload: bytes, code: str
) -> None:
    bad = organiser.send(payload)
    after = accrual(unique("after"))
    organiser.send(add(after))
    assert organiser.validation(bad)["error"]["code"] == code
    assert outcome(organiser, after["guid"])["status"] == "Success"


def test_an_item_the_processor_gives_up_on_is_answered_and_dead_lettered_by_the_contract(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    guid, uniq_id = str(uuid.uuid4()), unique("poison")
    broken = {"commandId": "c-broken", "typeOfCommand": "addCustomerPointMessage",
              "programme": "default", "guid": guid, "uniqId": uniq_id,
              "accrual": {"amount": "lots"}}
    organiser.plant(pipeline.items_topic, json.dumps(broken).encode(),
                    key=item_key("default", uniq_id))

    (answer,) = organiser.processing(guid)  # the Organiser holds it to results.schema.json
    assert (answer["status"], answer["error"]["code"]) == ("Error", "PROCESSING_FAILED")
    records = asyncio.run(read_all(pipeline.kafka_options, [pipeline.dead_letter_topic]))
    (letter,) = [record for record in records if planted(record.headers)]
    assert dead_letter_problems(letter.headers) == []
    headers = dict(letter.headers)
    assert (headers["loyalty.dlq.topic"], headers["loyalty.dlq.service"]) == (
        pipeline.items_topic.encode(), b"processor")
    assert broken["uniqId"].encode() not in letter.value, "sealed with the customer's key"
    assert json.loads(opened(pipeline, letter).origin.value) == broken


def opened(pipeline: Pipeline, record: Any) -> DeadLetter:
    """A dead letter opened with its customer's data key, as `loyalty dead-letters show` does."""
    keys = PostgresKeys(pipeline.dsn)
    try:
        letter = opened_letter(DeadLetter.of(record.key, record.value, record.headers),
                               KeyRing(keys, MasterKeys(Settings().master_keys())))
    finally:
        keys.close()
    assert letter is not None
    return letter


def test_wrong_types_fail_their_item_only(organiser: Organiser) -> None:
    good = accrual(unique("good"))
    wrong = {**accrual(unique("wrong")), "amount": "-1", "showCount": "many"}
    command_id = organiser.send(add(wrong, good))
    results = organiser.validation(command_id)["results"]
    assert [r["status"] for r in results] == ["Error", "Success"]
    assert results[0]["error"]["field"] == "amount"
    assert outcome(organiser, good["guid"])["status"] == "Success"


def test_programmes_named_by_the_header_share_nothing(
    organiser: Organiser, pipeline: Pipeline
) -> None:
    uniq_id, shared_phone = unique("twin"), phone()
    in_default = accrual(uniq_id, "1.00", phone=shared_phone)
    in_bank = accrual(uniq_id, "2.00", phone=shared_phone)
    organiser.send(add(in_default))
    organiser.send(add(in_bank), programme="bank-b")

    assert outcome(organiser, in_default["guid"])["status"] == "Success"
    assert outcome(organiser, in_bank["guid"])["status"] == "Success"
    assert customer(pipeline.dsn, uniq_id).balance == Decimal("1.00")
    assert customer(pipeline.dsn, uniq_id, programme="bank-b").balance == Decimal("2.00")
