"""Each read model declares the event classes it folds (`FOLDED`), and the view hands an event
only to the folds that declare it: the declarations must say exactly what the folds do."""

import dataclasses

import pytest

from projections.view import READ_MODELS, changes_of, folds_of
from services.domain.commands import Message
from tests.support.domain import World, add, block, erase, every_event


def every_kind_of_event() -> list[object]:
    world = World()
    every_event(world)
    resent = add("u3", amount="1.5", message=Message(text="hi"))
    world.apply(resent, resent)
    world.apply(dataclasses.replace(resent, fingerprint="other content"))
    world.apply(block("u3"), add("u3", amount="2"))
    world.apply(erase("u3"))
    notifications = world.store.recorder.select_notifications(1, 10_000)
    return [world.store.mapper.to_domain_event(n) for n in notifications]


EVENTS = every_kind_of_event()


@pytest.mark.parametrize("model", READ_MODELS, ids=lambda model: model.__name__)
def test_a_fold_changes_nothing_for_an_event_it_does_not_declare(model: object) -> None:
    folded = {type(event) for event in EVENTS if model.fold(event, 1)}  # type: ignore[attr-defined]

    declared = model.FOLDED  # type: ignore[attr-defined]
    assert all(issubclass(event_class, declared) for event_class in folded)
    assert all(any(issubclass(event_class, cls) for event_class in folded) for cls in declared)


def comparable(changes: list[object]) -> list[str]:
    return [repr(change) for change in changes]  # Jsonb values compare by identity, not repr


def test_the_view_hands_each_event_to_the_folds_that_declare_it() -> None:
    for event in EVENTS:
        every_fold = [change for model in READ_MODELS for change in model.fold(event, 7)]
        assert comparable(changes_of(event, 7)) == comparable(every_fold)
    assert {fold for event in EVENTS for fold in folds_of(type(event))} == {
        model.fold for model in READ_MODELS}
