"""Only the composition root builds infrastructure; the services are handed what they use.

Every module under `services/`, `projections/` and `tools/` is parsed, and each call in it
(at module level or in any function) is resolved through the module's imports to the object
it names. A module other than `services/bootstrap.py` and `services/adapters/*` fails the test
when it calls:

- a Kafka client's constructor: aiokafka's `AIOKafkaConsumer`, `AIOKafkaProducer`,
  `AIOKafkaAdminClient`, `AIOKafkaClient`;
- a pool's: psycopg_pool's `AsyncConnectionPool`, `ConnectionPool` (and their null
  variants), eventsourcing's `PostgresDatastore` and `InfrastructureFactory.construct` (a
  datastore with its pool), or a subclass of any of them;
- an event store's: `services.adapters.event_store.EventStore` or any other subclass of
  eventsourcing's `Application`, and `services.adapters.postgres.postgres_event_store`;
- the FastAPI application's: `fastapi.FastAPI` (or Starlette's `Starlette`);
- a factory of any of these in `services/adapters`: a function whose return annotation is one
  of those classes (found by inspecting the adapters, so a new factory needs no listing here),
  e.g. `services.adapters.kafka.consumer(settings, group)`.

A call through what a service was given (`self.consumer()`) or through the composition root
(`bootstrap.kafka_producer(settings)` in a tool) is not flagged: that is the point.

Single psycopg connections (`psycopg.connect`, `AsyncConnection.connect`) are not counted. A
connection is opened for one unit of work from a DSN the caller holds and closed with it: a
migration or a rebuild's TRUNCATE as the tables' owner, a heartbeat or a wakeup listener that
opens its connection again after the database came back. It holds no pool, no thread and no
background task, and nothing shares it; what a service keeps for its lifetime (a Kafka client,
a pool, an event store with its pool) is what must be made in one place, to be swapped and
closed there. Where a service opens connections over and over (the clock's ticks, the pending
items' sessions), the composition root still hands it the opener.

`tests/fixtures/composition_root/wires_itself.py` commits each kind of violation (and a few
calls that are fine): the test proves the rule catches every one of them.
"""

import ast
import importlib
import importlib.util
import inspect
import re
import sys
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from eventsourcing.application import Application
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.postgres import PostgresDatastore
from fastapi import FastAPI
from psycopg_pool import (
    AsyncConnectionPool,
    AsyncNullConnectionPool,
    ConnectionPool,
    NullConnectionPool,
)
from starlette.applications import Starlette

from services.adapters.postgres import postgres_event_store

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("services", "projections", "tools")
ALLOWED = ("services/bootstrap.py", "services/adapters/")
FIXTURE = ROOT / "tests" / "fixtures" / "composition_root" / "wires_itself.py"
MARK = re.compile(r"  # violation: (\S+)$")
"""How the fixture marks a line that the rule must flag, and the call it must name."""

INFRASTRUCTURE: tuple[type, ...] = (
    AIOKafkaConsumer, AIOKafkaProducer, AIOKafkaAdminClient, AIOKafkaClient,
    AsyncConnectionPool, ConnectionPool, AsyncNullConnectionPool, NullConnectionPool,
    PostgresDatastore, Application, FastAPI, Starlette,
)
"""What is built in the composition root alone (a subclass too)."""
FACTORIES: tuple[Any, ...] = (postgres_event_store, InfrastructureFactory.construct)
"""Functions that build infrastructure and whose annotations do not say so."""


def is_infrastructure(kind: Any) -> bool:
    kind = typing.get_origin(kind) or kind
    return isinstance(kind, type) and issubclass(kind, INFRASTRUCTURE)


def adapter_factories() -> set[Any]:
    """The functions of `services/adapters` that return infrastructure."""
    found = set()
    for path in sorted((ROOT / "services" / "adapters").glob("*.py")):
        module = importlib.import_module(module_name(path))
        for _, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__:
                continue
            try:
                returned = inspect.signature(function, eval_str=True).return_annotation
            except (NameError, TypeError):
                continue
            if is_infrastructure(returned):
                found.add(function)
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def resolved(dotted: str) -> Any:
    """The object a dotted path names (None when it names nothing importable)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:]:
                found = getattr(found, part)
        except AttributeError:
            return None
        return found
    return None


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    call: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.call}(...) builds infrastructure"


class Calls:
    """The calls of one module, with the dotted path each callee is imported under."""

    def __init__(self, tree: ast.Module, module: str) -> None:
        self.names: dict[str, str] = {}
        for node in ast.walk(tree):  # imports inside functions too
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.names[alias.asname] = alias.name
                    else:
                        self.names[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in tree.body:  # what the module defines names itself
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                self.names.setdefault(node.name, f"{module}.{node.name}")
        self.tree = tree

    def __iter__(self) -> Iterator[tuple[int, str]]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and (dotted := self.dotted(node.func)) is not None:
                yield node.lineno, dotted

    def dotted(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Subscript):  # InfrastructureFactory[View].construct
            return self.dotted(node.value)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return None if base is None else f"{base}.{node.attr}"
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        return None


def violations(path: Path, module: str, factories: set[Any]) -> list[Violation]:
    """The calls of the module at `path` that build infrastructure."""
    found = []
    for line, dotted in Calls(ast.parse(path.read_text(), str(path)), module):
        called = resolved(dotted)
        bare = getattr(called, "__func__", called)  # a classmethod, as its function
        if is_infrastructure(called) or any(called is factory for factory in factories) or any(
                bare is getattr(factory, "__func__", factory) for factory in FACTORIES):
            found.append(Violation(path.relative_to(ROOT).as_posix(), line, dotted))
    return found


def scanned_modules() -> list[Path]:
    return sorted(path for package in SCANNED for path in (ROOT / package).rglob("*.py"))


@pytest.fixture(scope="module")
def factories() -> set[Any]:
    return adapter_factories()


@pytest.fixture(scope="module")
def fixture_module() -> Iterator[ModuleType]:
    """The fixture, importable under a name of its own while the test runs (its own classes
    are resolved by importing it; nothing in it runs at import)."""
    name = "composition_root_fixture"
    spec = importlib.util.spec_from_file_location(name, FIXTURE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[name]


def test_only_the_composition_root_and_the_adapters_build_infrastructure(
    factories: set[Any],
) -> None:
    found = [violation for path in scanned_modules()
             if not path.relative_to(ROOT).as_posix().startswith(ALLOWED)
             for violation in violations(path, module_name(path), factories)]
    assert found == [], "\n".join(map(str, found))


def test_the_adapters_factories_are_found_by_what_they_return(factories: set[Any]) -> None:
    from services.adapters import kafka, pools

    assert {kafka.producer, kafka.consumer, kafka.reader, kafka.admin_client,
            pools.read_pool} <= factories


def test_the_rule_sees_what_the_composition_root_builds(factories: set[Any]) -> None:
    """The same check, run on bootstrap.py, finds what it builds: the rule reads real code."""
    calls = {violation.call.rsplit(".", 1)[-1] for violation in violations(
        ROOT / "services" / "bootstrap.py", "services.bootstrap", factories)}
    assert {"FastAPI", "EventStore", "postgres_event_store", "construct", "producer",
            "consumer", "reader", "admin_client", "read_pool"} <= calls


def test_the_rule_catches_a_module_that_wires_itself(
    factories: set[Any], fixture_module: ModuleType,
) -> None:
    flagged = {(violation.line, violation.call) for violation in violations(
        FIXTURE, fixture_module.__name__, factories)}
    marked = {(n, found.group(1))
              for n, line in enumerate(FIXTURE.read_text().splitlines(), start=1)
              if (found := MARK.search(line))}
    assert flagged == marked
    assert len(marked) >= 12
