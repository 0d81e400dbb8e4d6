"""Kafka topic names, headers, record keys and programme names (defaults are configurable)."""

import re

COMMANDS = "loyalty.commands"
"""Organisers' commands in: value is the JSON command, optional headers `programme`, `commandId`."""

ITEMS = "loyalty.items"
"""Valid items: an envelope per command and partition (`ENVELOPE_HEADER`), or one item per
record; keyed by programme and customer (one writer per customer)."""

RESULTS = "loyalty.results"
"""Stage-1 results keyed by commandId and stage-2 results keyed by guid."""

EVENTS = "loyalty.events"
"""The customers' domain events (CloudEvents JSON), keyed by programme and uniqId."""

DEAD_LETTERS = "loyalty.deadletter"
"""Records a service could not handle, with their origin, the service and the error."""

DEFAULT_PROGRAMME = "default"
PROGRAMME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""A programme's name: no `/`, so no name can make two aggregates' ids collide."""
_PROGRAMME = re.compile(PROGRAMME_PATTERN.strip("^$"))


def is_programme_name(name: str) -> bool:
    """Whether `name` is a well-formed programme name."""
    return _PROGRAMME.fullmatch(name) is not None

PROGRAMME_HEADER = "programme"
ENVELOPE_HEADER = "envelope"
"""On `loyalty.items`: the version of the envelope the value is (`2`); absent: one item."""
COMMAND_ID_HEADER = "commandId"


def of_programme(base: str, programme: str) -> str:
    """A programme's own topic of a kind (`loyalty.commands` -> `loyalty.commands.bank`): a
    programme name cannot make it another programme's, nor another kind's."""
    return f"{base}.{programme}"


def item_key(programme: str, uniq_id: str) -> bytes:
    """The key of an item record: every item of one customer lands on one partition."""
    return f"{programme}\x1f{uniq_id}".encode()
