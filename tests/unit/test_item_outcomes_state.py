"""The read models' writer folds an `ItemProcessed` from its stored JSON as it is, without
decoding it: the changes must be those of the event's own fold, for every answer, or it must
leave the event to be decoded."""

import dataclasses
from datetime import UTC, datetime
from typing import Any

from eventsourcing.utils import get_topic

from events.customer import PointsAccrued
from events.legacy import legacy_topics
from events.outcomes import ItemProcessed
from projections.view import changes_of, state_fold_of
from projections.writer import folded_from_state
from services.domain.answers import Rejection, answer
from services.domain.commands import Message
from services.domain.outcomes import ItemOutcome
from tests.support.domain import World, add, block, erase, every_event


def comparable(changes: list[object]) -> list[str]:
    return [repr(change) for change in changes]  # Jsonb values compare by identity, not repr


def processed(world: World) -> list[Any]:
    return [n for n in world.store.recorder.select_notifications(1, 10_000)
            if n.topic == get_topic(ItemProcessed)]


def world_of_every_answer() -> World:
    """Items answered with Success, with messages shown, and with every error code."""
    world = World()
    every_event(world)
    world.apply(dataclasses.replace(add("u2", amount="5"), command_timestamp=datetime(
        2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)))
    world.apply(add("u3", amount="1.5", message=Message(text="hi")))
    world.apply(block("u3"), add("u3", amount="2"))
    world.apply(erase("u3"))
    for number, rejection in enumerate(Rejection):
        item = dataclasses.replace(add("u4", amount="1"), guid=f"refused-{number}")
        world.store.save(ItemOutcome.record(item, f"items:0:{number}", None,
                                            answer(item, item.uniq_id, rejection, None)))
    return world


def test_every_answer_folded_from_its_stored_json_changes_what_its_event_does() -> None:
    world = world_of_every_answer()
    plain = world.store.mapper.transcoder.plain
    codes = set()

    for notification in processed(world):
        event = world.store.mapper.to_domain_event(notification)
        folded = folded_from_state(plain, notification)
        if event.messages is not None:
            assert folded is None, "texts sealed in the stored JSON: the event is decoded"
            continue
        assert folded is not None
        assert comparable(folded.changes) == comparable(changes_of(event, notification.id))
        assert folded.originator_id == str(event.originator_id)
        codes.add(event.error_code)

    assert codes == {None, *(rejection.value for rejection in Rejection)}


def test_an_answer_of_an_older_version_or_unreadable_is_left_to_be_decoded() -> None:
    world = World()
    world.apply(add("u1", amount="5"))
    (stored,) = processed(world)
    transcoder = world.store.mapper.transcoder
    state = transcoder.decode(stored.state)
    state.pop("command_timestamp")
    state.update(class_version=2)
    older = dataclasses.replace(stored, state=transcoder.encode(state))
    unreadable = dataclasses.replace(stored, state=b"{not json")
    unknown_code = dataclasses.replace(stored, state=stored.state.replace(
        b'"error_code":null', b'"error_code":"NO_SUCH_CODE"'))
    no_login = dataclasses.replace(stored, state=stored.state.replace(
        b'"login":"u1"', b'"login":null'))
    unregistered = dataclasses.replace(stored, state=stored.state.replace(
        b'"_type_":"datetime_iso"', b'"_type_":"no_such_type"', 1))
    assert no_login.state != stored.state and unregistered.state != stored.state

    assert folded_from_state(transcoder.plain, stored) is not None
    for left in (older, unreadable, unknown_code, no_login, unregistered):
        assert folded_from_state(transcoder.plain, left) is None
    assert folded_from_state(None, stored) is None, "no compiled transcoder: decoded"


def test_only_a_class_that_one_read_model_folds_and_offers_is_folded_from_its_json() -> None:
    assert state_fold_of(get_topic(ItemProcessed)) is not None
    assert state_fold_of(get_topic(PointsAccrued)) is None
    (legacy,) = [topic for topic, cls in legacy_topics().items() if cls is ItemProcessed]
    assert state_fold_of(legacy) is None, "an earlier layout's states are older"
