"""Kafka topic names and record keys (defaults; every name is configurable)."""

COMMANDS = "loyalty.commands"
"""Organisers' commands in: value is the JSON command, optional headers `programme`, `commandId`."""

ITEMS = "loyalty.items"
"""Valid items, one per record, keyed by programme and customer (one writer per customer)."""

RESULTS = "loyalty.results"
"""Stage-1 results keyed by commandId and stage-2 results keyed by guid."""

EVENTS = "loyalty.events"
"""The customers' domain events (CloudEvents JSON), keyed by programme and uniqId."""

DEFAULT_PROGRAMME = "default"

PROGRAMME_HEADER = "programme"
COMMAND_ID_HEADER = "commandId"


def item_key(programme: str, uniq_id: str) -> bytes:
    """The key of an item record: every item of one customer lands on one partition."""
    return f"{programme}\x1f{uniq_id}".encode()
