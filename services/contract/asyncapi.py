"""The AsyncAPI 3 document of the topics: channels, who sends and receives what, each message
with its key, headers, payload and an example.

The document describes the service: an operation's `send` or `receive` is one of its services'
(named by the operation's tags); organisers do the opposite (they send the commands intake
receives, and receive the results and events the service sends). Payloads and headers are
references to the JSON Schemas beside it in docs/contracts/ (`services.contract.publish`), so
the document holds no schema of its own; the examples are made by the real code
(`services.contract.examples`).
"""

from typing import Any

from services.contract import examples, topics

VERSION = "1.0.0"
BINDING = "0.5.0"
COMMANDS_FILE = "commands.schema.json"
ITEMS_FILE = "items.schema.json"
WORK_ITEM_FILE = "work-item.schema.json"
RESULTS_FILE = "results.schema.json"
EVENTS_FILE = "events.schema.json"
HEADERS_FILE = "headers.schema.json"
ASYNCAPI_FILE = "asyncapi.json"

CUSTOMER_KEY = {
    "type": "string", "examples": ["default\u001f12345678"],
    "description": "The programme and the customer's uniqId joined by the unit separator "
                   "(\\x1f, U+001F), UTF-8: `<programme>\\x1f<uniqId>`. Every record of one "
                   "customer is on one partition, in order."}
ENVELOPE_KEY = {
    **CUSTOMER_KEY,
    "description": "The key of the record's (first) item: its programme and its customer's "
                   "uniqId joined by the unit separator (\\x1f, U+001F), UTF-8. An envelope's "
                   "items all belong to the partition the key gives (each customer's to its own "
                   "partition, in order)."}
PROGRAMME_PARAMETER = {
    "description": "A programme of LOYALTY_PROGRAMMES. These topics exist only when "
                   "LOYALTY_TOPICS_PER_PROGRAMME is true; then each programme's commands, "
                   "results and events have their own, so that Kafka ACLs keep organisers "
                   "apart (docs/security.md).",
    "examples": ["bank"]}


def _message(name: str, summary: str, payload: dict[str, Any], key: dict[str, Any],
             example: dict[str, Any], headers: str | None = None,
             more: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    message: dict[str, Any] = {"name": name, "title": name, "summary": summary,
                               "contentType": "application/json"}
    if headers is not None:
        message["headers"] = {"$ref": f"{HEADERS_FILE}#/$defs/{headers}"}
    message["payload"] = payload
    message["bindings"] = {"kafka": {"key": key, "bindingVersion": BINDING}}
    message["examples"] = [example, *more]
    return message


def _example(name: str, payload: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    example: dict[str, Any] = {"name": name}
    if headers is not None:
        example["headers"] = headers
    example["payload"] = payload
    return example


def messages() -> dict[str, dict[str, Any]]:
    """Every message of the topics, by id."""
    created, accrued = examples.events()
    return {
        "command": _message(
            "Command", "An organiser's command: its typeOfCommand and its items.",
            {"$ref": COMMANDS_FILE},
            {"description": "Any key, or none: intake does not read it."},
            _example("seed", examples.command(), examples.command_headers()),
            headers="CommandHeaders"),
        "workItem": _message(
            "WorkItem", "The validated items of one command that belong to one partition, in "
                        "an envelope (header `envelope: 2`), or one validated item (no such "
                        "header: the clock, the bonus window, earlier intakes). Internal: "
                        "only the service writes and reads it.",
            {"$ref": WORK_ITEM_FILE}, ENVELOPE_KEY,
            _example("seed", examples.work_items(), {topics.ENVELOPE_HEADER: "2"}),
            headers="ItemHeaders", more=(_example("one item", examples.work_item(), {}),)),
        "validationResult": _message(
            "ValidationResult", "Stage 1: the format check of every item of one command, or "
                                "why the whole command was refused.",
            {"$ref": f"{RESULTS_FILE}#/$defs/ValidationResult"},
            {"type": "string", "description": "The command's commandId.", "examples": ["c-1"]},
            _example("seed", examples.validation_result(), examples.result_headers()),
            headers="ResultHeaders"),
        "processingResult": _message(
            "ProcessingResult", "Stage 2: the final outcome of one accepted item, published "
                                "once what it reports is stored (repeated results are "
                                "identical).",
            {"$ref": f"{RESULTS_FILE}#/$defs/ProcessingResult"},
            {"type": "string", "description": "The item's guid.",
             "examples": ["9803d32e-8fcd-4984-a736-9f02f726b3c0"]},
            _example("seed", examples.processing_result())),
        "customerEvent": _message(
            "CustomerEvent", "A customer's domain event, CloudEvents JSON (docs/events.md): "
                             "`type` names its schema; deduplicate by `id`.",
            {"$ref": EVENTS_FILE}, CUSTOMER_KEY,
            _example(created["type"], created), more=(_example(accrued["type"], accrued),)),
        "deadLetter": _message(
            "DeadLetter", "A record a service gave up on, unchanged (key, value and headers), "
                          "with headers of its own saying where it came from and why.",
            {"description": "The original record's value as it was, any bytes (its first "
                            "64 KiB when the letter would not fit in a record)."},
            {"description": "The original record's key (empty when the original had neither "
                            "key nor value)."},
            _example("an item the processor gave up on", examples.work_item(),
                     examples.dead_letter_headers()),
            headers="DeadLetterHeaders"),
    }


def _channel(address: str, description: str, names: tuple[str, ...],
             per_programme: bool = False) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": f"{address}.{{programme}}" if per_programme else address,
        "title": address + (".<programme>" if per_programme else ""),
        "description": description,
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
    }
    if per_programme:
        channel["parameters"] = {"programme": PROGRAMME_PARAMETER}
    channel["bindings"] = {"kafka": {"partitions": 8, "bindingVersion": BINDING}}
    return channel


def channels() -> dict[str, dict[str, Any]]:
    """Every topic (default names; LOYALTY_*_TOPIC rename them), and each programme's own."""
    commands = ("Organisers' commands in: any Kafka client, or the HTTP gateway "
                "(`POST /v1/commands`). Partitions: LOYALTY_TOPIC_PARTITIONS (8).")
    results = ("Stage-1 results (keyed by commandId) and stage-2 results (keyed by guid), "
               "delivered at least once.")
    events = "The customers' domain events, after they are stored, at least once, stable ids."
    found = {
        "commands": _channel(topics.COMMANDS, commands, ("command",)),
        "programmeCommands": _channel(topics.COMMANDS, commands, ("command",), True),
        "items": _channel(topics.ITEMS, "Validated items, one per record (internal; Kafka "
                                        "ACLs let only the service write it).", ("workItem",)),
        "results": _channel(topics.RESULTS, results, ("validationResult", "processingResult")),
        "programmeResults": _channel(topics.RESULTS, results,
                                     ("validationResult", "processingResult"), True),
        "events": _channel(topics.EVENTS, events, ("customerEvent",)),
        "programmeEvents": _channel(topics.EVENTS, events, ("customerEvent",), True),
        "deadLetters": _channel(topics.DEAD_LETTERS, "Records the services gave up on, for an "
                                                     "operator: `loyalty deadletter list | "
                                                     "replay`.", ("deadLetter",)),
    }
    return found


def _operation(action: str, channel: str, names: tuple[str, ...], who: tuple[str, ...],
               summary: str, group: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "action": action, "channel": {"$ref": f"#/channels/{channel}"}, "summary": summary,
        "tags": [{"name": name} for name in who],
        "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in names],
    }
    if group is not None:
        operation["bindings"] = {"kafka": {"groupId": {"type": "string", "enum": [group]},
                                           "bindingVersion": BINDING}}
    return operation


def _both(name: str, channel: str, *args: Any, **kwargs: Any) -> dict[str, dict[str, Any]]:
    """An operation on the shared topic and on each programme's own."""
    own = "programme" + channel[0].upper() + channel[1:]
    return {name: _operation(args[0], channel, *args[1:], **kwargs),
            name + "OfProgramme": _operation(args[0], own, *args[1:], **kwargs)}


def operations() -> dict[str, dict[str, Any]]:
    """What each service sends and receives (organisers: the other way round)."""
    return {
        **_both("receiveCommands", "commands", "receive", ("command",), ("intake",),
                "Intake reads the organisers' commands and checks them (stage 1).",
                group="loyalty-intake"),
        **_both("forwardCommands", "commands", "send", ("command",), ("api",),
                "The HTTP gateway produces a command as the organiser posted it, with the "
                "headers programme (of its API key) and a fresh commandId."),
        "sendItems": _operation(
            "send", "items", ("workItem",), ("intake", "api", "clock"),
            "Intake sends each valid item; the bonus window a customer's login "
            "(authorizeCustomer); the clock the points due to be activated or expired "
            "(settlePoints)."),
        "receiveItems": _operation(
            "receive", "items", ("workItem",), ("processor",),
            "The processor applies each item to its customer (stage 2), exactly once.",
            group="loyalty-processor"),
        **_both("sendValidationResults", "results", "send", ("validationResult",),
                ("intake",), "Intake answers every command at once (stage 1); organisers "
                             "read it, keyed by the commandId."),
        **_both("sendProcessingResults", "results", "send", ("processingResult",), ("relay",),
                "The relay publishes each item's final outcome once it is stored (stage 2); "
                "organisers read it, keyed by the guid."),
        **_both("receiveValidationResults", "results", "receive", ("validationResult",),
                ("projections",), "The read models record the accepted items as pending "
                                  "(GET /v1/items/{guid}).", group="loyalty-projections"),
        **_both("sendEvents", "events", "send", ("customerEvent",), ("relay",),
                "The relay publishes every stored customer event; organisers' systems "
                "follow them (docs/events.md)."),
        "sendDeadLetters": _operation(
            "send", "deadLetters", ("deadLetter",), ("intake", "processor", "relay"),
            "A record that cannot be decoded, validated or applied after a few tries goes "
            "here, and the stream goes on."),
        "receiveDeadLetters": _operation(
            "receive", "deadLetters", ("deadLetter",), ("operator",),
            "`loyalty deadletter list` shows them; `replay` produces the original again to "
            "its topic."),
    }


TAGS = (
    ("intake", "Stage 1: `loyalty intake`."), ("processor", "Stage 2: `loyalty processor`."),
    ("relay", "Publishes results and events: `loyalty relay`."),
    ("projections", "The read models: `loyalty projections run`."),
    ("clock", "Activates and expires points on time: `loyalty clock`."),
    ("api", "The HTTP API: the command gateway and the bonus window."),
    ("operator", "A person running `loyalty deadletter`."),
)

DESCRIPTION = """\
The Kafka topics of the loyalty points service. Organisers produce commands to
`loyalty.commands` (headers `programme`, `commandId`), read their results from
`loyalty.results` and their customers' events from `loyalty.events`; `loyalty.items` and
`loyalty.deadletter` are the service's own. An operation below is a service's: organisers do the
opposite (they send what intake receives, and receive what intake and the relay send).

Payloads and headers are JSON Schemas beside this document: commands.schema.json (and
items.schema.json, each command type's items), work-item.schema.json, results.schema.json,
events.schema.json, headers.schema.json. The API serves them all under /contracts/.
"""


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the topics."""
    return {
        "asyncapi": "3.0.0",
        "id": "urn:loyalty:asyncapi",
        "info": {
            "title": "Loyalty points: Kafka topics", "version": VERSION,
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0",
                        "url": "https://www.apache.org/licenses/LICENSE-2.0"},
            "tags": [{"name": name, "description": text} for name, text in TAGS],
        },
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka",
                              "description": "The broker of `loyalty up` "
                                             "(LOYALTY_KAFKA_BOOTSTRAP_SERVERS)."}},
        "defaultContentType": "application/json",
        "channels": channels(),
        "operations": operations(),
        "components": {"messages": messages()},
    }
