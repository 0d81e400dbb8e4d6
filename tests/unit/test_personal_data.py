"""Personal fields are sealed per customer: readable with that customer's key alone, unreadable
once it is destroyed, whatever else is known; the master key wraps every data key and may be
rotated."""

import dataclasses
import os
import typing
import uuid

import pytest

from events.customer import CustomerCreated, EmailChanged, MessageQueued, PhoneChanged
from events.indexes import PhoneClaimed
from events.outcomes import ItemProcessed
from services.adapters.personal_data import (
    KeyRing,
    MasterKeys,
    MemoryKeys,
    is_sealed,
    omit_state,
    open_state,
    seal_state,
)

ANN, BOB = uuid.uuid4(), uuid.uuid4()
MASTER = os.urandom(32)


def ring(keys: MemoryKeys | None = None, *masters: bytes) -> KeyRing:
    return KeyRing(keys if keys is not None else MemoryKeys(), MasterKeys(masters or (MASTER,)))


def stored(keyring: KeyRing) -> None:
    """What the store does once the events that use the pending keys are committed."""
    keyring.table.insert(None, keyring.pending_rows(list(keyring.pending)))
    keyring.committed(list(keyring.pending))


def test_a_sealed_field_reads_back_with_its_customers_key_only() -> None:
    keyring = ring()
    token = keyring.seal(ANN, "+79161234567")

    assert is_sealed(token) and "79161234567" not in token
    assert keyring.open(ANN, token) == "+79161234567"
    assert keyring.open(BOB, token) is None, "a token moved to another customer reads as nothing"
    assert keyring.seal(ANN, "+79161234567") != token, "a fresh nonce every time"


def test_an_erased_key_leaves_every_token_unreadable_and_a_new_key_reads_only_its_own() -> None:
    keys = MemoryKeys()
    keyring = ring(keys)
    old = keyring.seal(ANN, "ann@example.org")
    stored(keyring)
    keys.erase(None, [ANN])

    after = ring(keys)  # another process, or the same one after the erasure's commit
    assert after.open(ANN, old) is None
    new = after.seal(ANN, "ann@new.example.org")
    stored(after)
    assert keys.rows[ANN].generation == 2
    assert ring(keys).open(ANN, new) == "ann@new.example.org"
    assert ring(keys).open(ANN, old) is None


def test_a_refresh_unwraps_a_known_key_once_and_still_sees_an_erasure_made_elsewhere(
        monkeypatch: pytest.MonkeyPatch) -> None:
    keys = MemoryKeys()
    writer = ring(keys)
    token = writer.seal(ANN, "+79160000002")
    stored(writer)
    reader = ring(keys)
    unwrapped: list[uuid.UUID] = []
    unwrap = reader.masters.unwrap

    def counted(subject: uuid.UUID, *rest: typing.Any) -> typing.Any:
        unwrapped.append(subject)
        return unwrap(subject, *rest)

    monkeypatch.setattr(reader.masters, "unwrap", counted)

    reader.refresh([ANN])
    reader.refresh([ANN])
    assert reader.open(ANN, token) == "+79160000002"
    assert unwrapped == [ANN], "an unchanged key is not unwrapped again at every batch"

    keys.erase(None, [ANN])  # by another process
    reader.refresh([ANN])
    assert reader.open(ANN, token) is None, "the key read before the erasure is not used"


def test_a_read_from_before_an_erasure_that_another_thread_applies_last_does_not_revive_the_key(
        ) -> None:
    keys = MemoryKeys()
    writer = ring(keys)
    token = writer.seal(ANN, "+79160000003")
    stored(writer)
    reader = ring(keys)
    before = {ANN: dataclasses.replace(keys.rows[ANN])}  # a thread's read, still to be applied
    keys.erase(None, [ANN])
    reader.refresh([ANN])  # another thread reads after the erasure, and applies first
    assert reader.open(ANN, token) is None

    stale = MemoryKeys()
    stale.rows = before
    reader.table = stale
    reader.refresh([ANN])  # the first thread applies its older read last

    assert reader.open(ANN, token) is None, "the erased key stays erased"
    reader.table = keys
    made = reader.key_for_sealing(ANN)
    assert made.generation == 2, "a new key for the erased customer is of the next generation"


def test_a_key_wrapped_by_a_previous_master_key_still_opens() -> None:
    keys = MemoryKeys()
    first = ring(keys)
    token = first.seal(ANN, "+79160000001")
    stored(first)

    rotated = ring(keys, os.urandom(32), MASTER)
    assert rotated.open(ANN, token) == "+79160000001"
    with pytest.raises(LookupError, match="not configured"):
        ring(keys, os.urandom(32)).open(ANN, token)


def test_the_stored_key_is_wrapped_not_plain() -> None:
    keys = MemoryKeys()
    keyring = ring(keys)
    keyring.seal(ANN, "x")
    secret = keyring.pending[ANN].secret
    stored(keyring)

    wrapped = keys.rows[ANN].wrapped
    assert wrapped is not None and secret not in wrapped


def test_each_event_seals_what_its_class_declares_personal() -> None:
    keyring = ring()
    created = {"originator_id": ANN, "phone": "+79161234567", "email": "a@b.org",
               "programme": "p", "uniq_id": "u1"}
    sealed = seal_state(created, CustomerCreated.personal, CustomerCreated.personal_subject,
                        keyring)
    assert created["phone"] == "+79161234567", "the event itself is left as it is"
    assert is_sealed(sealed["phone"]) and is_sealed(sealed["email"])
    assert sealed["uniq_id"] == "u1" and sealed["programme"] == "p"
    open_state(sealed, CustomerCreated.personal, CustomerCreated.personal_subject, keyring)
    assert sealed == created

    changed = seal_state({"originator_id": ANN, "email": "n@b.org", "previous": "a@b.org"},
                         EmailChanged.personal, EmailChanged.personal_subject, keyring)
    assert is_sealed(changed["email"]) and is_sealed(changed["previous"])

    outcome = {"originator_id": uuid.uuid4(), "customer_id": str(BOB), "messages": [
        {"message_id": "m1", "text": "Hello Bob", "shows_left": 0}]}
    sealed_outcome = seal_state(outcome, ItemProcessed.personal,
                                ItemProcessed.personal_subject, keyring)
    assert is_sealed(sealed_outcome["messages"][0]["text"])
    assert sealed_outcome["messages"][0]["message_id"] == "m1"

    claim = seal_state({"originator_id": uuid.uuid4(), "customer_id": str(ANN),
                        "phone": "+79161234567"}, PhoneClaimed.personal,
                       PhoneClaimed.personal_subject, keyring)
    assert keyring.open(ANN, claim["phone"]) == "+79161234567", "the claimant's key seals it"


CONTACT_OR_TEXT = {"phone", "email", "previous", "text", "messages"}


def test_every_stored_field_that_can_hold_a_contact_or_a_text_is_declared_personal() -> None:
    import events
    import events.base

    def classes(root: type) -> list[type]:
        return [root, *(c for sub in root.__subclasses__() for c in classes(sub))]

    stored = {cls for root in (events.base.Event, events.base.Created)
              for cls in classes(root) if cls.__module__.startswith("events.")}
    assert {cls.__name__ for cls in stored} >= {"CustomerCreated", "PhoneChanged",
                                                 "EmailChanged", "MessageQueued"}
    undeclared = {(cls.__name__, name) for cls in stored
                  for name in typing.get_type_hints(cls)
                  if name in CONTACT_OR_TEXT
                  and not any(path.split(".")[0] == name for path in cls.personal)}
    assert undeclared == set()

    changed = seal_state({"originator_id": ANN, "phone": "+79161234567",
                          "previous": "+79167654321"}, PhoneChanged.personal,
                         PhoneChanged.personal_subject, ring())
    assert is_sealed(changed["phone"]) and is_sealed(changed["previous"])


def test_published_events_leave_personal_fields_out() -> None:
    state = {"message_id": "m", "text": "hi", "show_count": 1}
    assert omit_state(state, MessageQueued.personal) == {"message_id": "m", "show_count": 1}
    shown = {"messages": [{"message_id": "m", "text": "hi"}], "login": "u"}
    assert omit_state(shown, ItemProcessed.personal) == {"messages": [{"message_id": "m"}],
                                                         "login": "u"}


def test_a_dead_letter_of_a_known_customer_is_sealed_and_erased_with_it() -> None:
    from services.adapters.dead_letters import DeadLetter, Origin
    from services.adapters.personal_data import opened_letter, sealed_letter

    keys = MemoryKeys()
    keyring = ring(keys)
    item = b'{"uniqId": "ann", "phone": "+79161234567"}'
    letter = DeadLetter(Origin("loyalty.items", 0, 7, b"k", item), "processor",
                        "TypeError: no phone +79161234567 here")
    sealed = sealed_letter(letter, keyring, ANN)
    stored(keyring)
    record = sealed.record("loyalty.deadletter")

    assert b"79161234567" not in (record.value or b"")
    assert all(b"79161234567" not in raw for _, raw in record.headers)
    assert (b"loyalty.dlq.sealed-for" in [name.encode() for name, _ in record.headers])
    read = DeadLetter.of(record.key, record.value, record.headers)
    assert opened_letter(read, ring(keys)) == dataclasses.replace(letter, at=read.at)
    keys.erase(None, [ANN])
    assert opened_letter(read, ring(keys)) is None
