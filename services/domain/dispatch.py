"""How an aggregate's `when` finds the handler of an event: eventsourcing's single-dispatch
method, bound cheaply.

Python 3.11's `functools.singledispatchmethod` builds and wraps (`functools.update_wrapper`) a
new function every time the method is looked up, which an aggregate pays for every event it
applies: some 5 % of a processor's CPU. This one is registered and dispatched exactly as the
library's, and bound with one small closure instead.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from eventsourcing.dispatch import singledispatchmethod as library_singledispatchmethod

T = TypeVar("T")


class singledispatchmethod(library_singledispatchmethod[T]):  # noqa: N801 (the library's name)
    """`@singledispatchmethod` for an aggregate's `when(self, event)`."""

    def __get__(self, obj: Any, cls: type[Any] | None = None) -> Callable[..., T]:
        if self.deferred_registrations:
            super().__get__(obj, cls)  # registers what the library deferred
        dispatch = self.dispatcher.dispatch

        def when(event: Any, /) -> T:
            return dispatch(event.__class__)(obj, event)

        return when
