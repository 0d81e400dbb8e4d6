"""The relay publishes a stored event the same whichever way it reads it, and the compiled
transcoder stores the same bytes as the library's own."""

import dataclasses
from typing import Any

from eventsourcing.persistence import JSONTranscoder

from events import PUBLISHED
from events.customer import PointsAccrued
from events.outcomes import ANSWERS
from services.adapters.event_store import CompiledJSONTranscoder, register_transcodings
from services.adapters.metrics import ServiceMetrics
from services.domain.commands import Message
from services.relay.publisher import Relay
from services.settings import Settings
from tests.support.domain import World, add, block, every_event


def relay_of(world: World) -> Relay:
    return Relay(Settings(), world.store, ServiceMetrics("relay-test"))


def notifications(world: World) -> list[Any]:
    return world.store.recorder.select_notifications(1, 10_000)


def test_a_current_event_published_from_its_stored_json_is_the_one_loaded_and_published() -> None:
    world = World()
    every_event(world)
    every_event(world, "u2")
    resent = add("u3", amount="1.5", message=Message(text="Привет \u2028 \x07 \"hi\""))
    world.apply(resent, resent)  # an item sent twice
    world.apply(dataclasses.replace(resent, fingerprint="other content"))  # a reused guid
    world.apply(block("u3"), add("u3", amount="2"))  # a rejection
    relay = relay_of(world)

    published_types = set()
    for notification in notifications(world):
        event = world.store.mapper.to_domain_event(notification)
        from_state = relay.published_from_state(notification)
        if isinstance(event, (*PUBLISHED, *ANSWERS)):
            assert from_state == relay.publication(event), type(event).__name__
            published_types.add(type(event))
        else:
            assert from_state is None
    assert published_types == {*PUBLISHED, *ANSWERS}


def test_an_event_of_an_older_version_is_published_through_its_upcasters() -> None:
    world = World()
    world.apply(add("u1", amount="5.00"))
    relay = relay_of(world)
    (accrued,) = [n for n in notifications(world) if n.topic.endswith("PointsAccrued")]
    state = world.store.mapper.transcoder.decode(accrued.state)
    state.update(class_version=1)
    for name in ("available", "available_from", "expires_at", "active", "pending", "debt"):
        state.pop(name)
    older = dataclasses.replace(accrued, state=world.store.mapper.transcoder.encode(state))

    assert relay.published_from_state(older) is None
    record = relay.record(older)
    assert record is not None and b'"version": 2' in (record[2] or b"")
    assert PointsAccrued.class_version == 2


def test_the_compiled_transcoder_writes_and_reads_what_the_library_does() -> None:
    world = World()
    every_event(world)
    library = JSONTranscoder()
    register_transcodings(library)
    compiled = world.store.mapper.transcoder
    assert isinstance(compiled, CompiledJSONTranscoder)

    for notification in notifications(world):
        state = library.decode(notification.state)
        assert compiled.encode(state) == library.encode(state) == notification.state
        assert compiled.decode(notification.state) == state
