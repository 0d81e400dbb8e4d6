"""The sample ACLs (`deploy/kafka-acls.sh`) grant what docs/security.md says: with per-programme
topics, an organiser writes only its own programme's commands topic and reads only its own
results and events, and each service reaches the topics the settings make it use."""

import os
import subprocess
from collections import defaultdict
from pathlib import Path

from services.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = Settings(topics_per_programme=True, programmes=("alpha", "beta"))


def grants() -> dict[tuple[str, str], set[tuple[str, str]]]:
    """(principal, operation) -> {(pattern type, topic or group)} of the script's ACLs."""
    printed = subprocess.run(
        ["bash", str(ROOT / "deploy" / "kafka-acls.sh"), "broker:9093", "admin.properties",
         "alpha", "beta"], env={**os.environ, "LOYALTY_ACLS_DRY_RUN": "1"},
        capture_output=True, text=True, check=True).stdout
    found: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for line in printed.splitlines():
        words = line.split()
        principal = words[words.index("--allow-principal") + 1].removeprefix("User:")
        pattern = "prefixed" if "prefixed" in words else "literal"
        operations = [words[n + 1] for n, word in enumerate(words) if word == "--operation"]
        resources = [(word, words[n + 1]) for n, word in enumerate(words)
                     if word in ("--topic", "--group")]
        for operation in operations:
            for kind, name in resources:
                found[principal, operation].add((pattern if kind == "--topic" else
                                                 f"group-{pattern}", name))
    return found


def allowed(found: dict[tuple[str, str], set[tuple[str, str]]], principal: str,
            operation: str, topic: str) -> bool:
    return any((pattern == "literal" and topic == name)
               or (pattern == "prefixed" and topic.startswith(name))
               for pattern, name in found.get((principal, operation), set()))


def test_an_organiser_writes_and_reads_only_its_own_programmes_topics() -> None:
    found = grants()
    every_topic = [*SETTINGS.commands_topics(), *SETTINGS.results_topics(),
                   *SETTINGS.events_topics(), SETTINGS.items_topic, SETTINGS.dead_letter_topic]
    for programme, other in (("alpha", "beta"), ("beta", "alpha")):
        organiser = f"organiser-{programme}"
        writable = [t for t in every_topic if allowed(found, organiser, "Write", t)]
        readable = [t for t in every_topic if allowed(found, organiser, "Read", t)]
        assert writable == [SETTINGS.commands_topic_of(programme)]
        assert readable == [SETTINGS.results_topic_of(programme),
                            SETTINGS.events_topic_of(programme)]
        assert other not in " ".join(writable + readable)


def test_each_service_reaches_the_topics_it_uses() -> None:
    found = grants()
    uses = {
        "loyalty-intake": {"Read": SETTINGS.commands_topics(),
                           "Write": [SETTINGS.items_topic, *SETTINGS.results_topics(),
                                     SETTINGS.dead_letter_topic]},
        "loyalty-relay": {"Write": [*SETTINGS.results_topics(), *SETTINGS.events_topics(),
                                    SETTINGS.dead_letter_topic]},
        "loyalty-processor": {"Read": [SETTINGS.items_topic],
                              "Write": [SETTINGS.dead_letter_topic]},
        "loyalty-projections": {"Read": SETTINGS.results_topics()},
        "loyalty-api": {"Write": [*SETTINGS.commands_topics(), SETTINGS.items_topic]},
        "loyalty-clock": {"Write": [SETTINGS.items_topic]},
    }
    for principal, operations in uses.items():
        for operation, topics in operations.items():
            for topic in topics:
                assert allowed(found, principal, operation, topic), (principal, operation, topic)


def test_prepare_and_the_services_that_check_the_topics_may_describe_them() -> None:
    found = grants()
    every_topic = [*SETTINGS.commands_topics(), *SETTINGS.results_topics(),
                   *SETTINGS.events_topics(), SETTINGS.items_topic, SETTINGS.dead_letter_topic]
    checkers = {"loyalty-prepare": ("Create", "Describe", "DescribeConfigs"),
                **dict.fromkeys(("loyalty-intake", "loyalty-processor", "loyalty-relay",
                                 "loyalty-clock"), ("Describe", "DescribeConfigs"))}
    for principal, operations in checkers.items():
        for operation in operations:
            for topic in every_topic:
                assert allowed(found, principal, operation, topic), (principal, operation, topic)
    assert not any(allowed(found, principal, "Create", topic) for topic in every_topic
                   for principal in checkers if principal != "loyalty-prepare")
