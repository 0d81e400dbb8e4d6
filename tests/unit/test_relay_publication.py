"""The relay publishes a stored event the same whichever way it reads it, and the compiled
transcoder stores the same bytes as the library's own."""

import dataclasses
import json
import time
from datetime import UTC, date, datetime
from typing import Any

import pytest
from eventsourcing.persistence import JSONTranscoder

from events import PUBLISHED
from events.customer import PointsAccrued
from events.outcomes import ANSWERS, ItemProcessed
from services.adapters.event_store import register_transcodings
from services.adapters.eventsourcing_internals import CompiledJSONTranscoder
from services.adapters.kafka import Record
from services.adapters.metrics import ServiceMetrics
from services.domain.commands import Message
from services.relay.publisher import Publication, Relay, encoded
from services.settings import Settings
from tests.support.domain import World, add, block, erase, every_event

RESULT = Record("results", b"guid", b"{}")


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
    world.apply(block("u3"), add("u3", amount="2"))
    world.apply(erase("u3"))  # a rejection
    relay = relay_of(world)

    published_types = set()
    for notification in notifications(world):
        event = world.store.mapper.to_domain_event(notification)
        from_state = relay.published_from_state(notification)
        if isinstance(event, (*PUBLISHED, *ANSWERS)):
            if getattr(event, "messages", None):  # texts sealed in the stored JSON
                assert from_state is None, "the mapper opens them; the stored JSON cannot"
            else:
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
    ((_, published),) = relay.records([older])
    assert json.loads(published.record.value or b"")["version"] == 2
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


def test_a_result_goes_with_when_its_command_was_produced_either_way() -> None:
    world = World()
    produced = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    world.apply(dataclasses.replace(add("u1", amount="5"), command_timestamp=produced))
    world.apply(add("u2", amount="5"))
    relay = relay_of(world)
    answers = [n for n in notifications(world) if n.topic.endswith("ItemProcessed")]

    published = [relay.published_from_state(n) for n in answers]
    loaded = [relay.publication(world.store.mapper.to_domain_event(n)) for n in answers]

    assert published == loaded
    assert [p.commanded_at for p in published if p is not None] == [produced.timestamp(), None]


def test_the_relay_observes_the_latency_of_results_whose_command_it_knows() -> None:
    world = World()
    relay = relay_of(world)
    now = time.time()
    relay.answered([Publication(RESULT, now - 2.0), Publication(RESULT, None),
                    Publication(RESULT, now + 5.0)])

    registry = relay.metrics.registry
    labels = {"service": "relay-test"}
    assert registry.get_sample_value("loyalty_item_latency_seconds_count", labels) == 2
    assert registry.get_sample_value("loyalty_item_latency_seconds_bucket",
                                     {**labels, "le": "0.05"}) == 1, "a clock ahead: 0"
    assert 2.0 <= (registry.get_sample_value("loyalty_item_latency_seconds_sum", labels)
                   or 0) < 3.0


def test_an_outcome_stored_before_version_3_comes_without_its_command_s_timestamp() -> None:
    world = World()
    world.apply(add("u1", amount="5"))
    (processed,) = [n for n in notifications(world) if n.topic.endswith("ItemProcessed")]
    transcoder = world.store.mapper.transcoder
    state = transcoder.decode(processed.state)
    state.pop("command_timestamp")
    state.update(class_version=2)
    older = dataclasses.replace(processed, state=transcoder.encode(state))

    event = world.store.mapper.to_domain_event(older)

    assert isinstance(event, ItemProcessed) and event.command_timestamp is None
    assert relay_of(world).published_from_state(older) is None, "published through upcasters"


def test_a_published_event_is_compact_utf8_json_and_a_huge_integer_still_publishes() -> None:
    assert encoded({"text": "Привет \u2028", "n": [1, None]}) == (
        '{"text":"Привет \u2028","n":[1,null]}'.encode())
    huge = {"n": 2**70}  # beyond what orjson writes: the standard library does
    assert encoded(huge) == b'{"n":1180591620717411303424}'


def test_what_json_has_no_type_for_is_refused_as_before_not_written_in_a_form_of_orjsons() -> None:
    for value in (date(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC)):
        with pytest.raises(TypeError):
            encoded({"data": {"when": value}})


def test_a_stored_value_of_a_type_not_registered_is_dead_lettered_not_published() -> None:
    world = World()
    world.apply(add("u1", amount="5.00"))
    relay = relay_of(world)
    (accrued,) = [n for n in notifications(world) if n.topic.endswith("PointsAccrued")]
    foreign = dataclasses.replace(accrued, state=accrued.state.replace(
        b'"_type_":"decimal_str"', b'"_type_":"no_such_type"', 1))
    assert foreign.state != accrued.state

    ((_, publication),) = relay.records([foreign])

    assert publication.record.topic == relay.settings.dead_letter_topic
