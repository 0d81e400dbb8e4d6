"""The vocabulary shared by the read models: a statement to run, a fold from event to statements.

A fold is a pure function: it matches a domain event on its class (`events`) and returns the
SQL that brings one read model up to date. It performs no I/O, so the view can
run the statements of many events in one transaction.

The view runs the statements of a batch of events in the order of the events.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True)
class Statement:
    """One parameterised SQL statement with its named parameters."""

    query: sql.SQL | sql.Composed
    params: Mapping[str, object]

    def storable_params(self) -> Mapping[str, object]:
        """The parameters, with any NUL character in a text replaced by U+FFFD.

        PostgreSQL text cannot hold NUL. Stage 1 refuses it, but a read model must never stall
        on an event stored before that rule, or written by another producer of items.
        """
        if not any(isinstance(v, str) and "\x00" in v for v in self.params.values()):
            return self.params
        return {k: v.replace("\x00", "\ufffd") if isinstance(v, str) else v
                for k, v in self.params.items()}


Fold = Callable[[object, int], list[Statement]]
"""(domain event, its notification id) -> statements; the id orders rows deterministically.
Each read model's `fold` matches on the event classes of `events` it needs."""
