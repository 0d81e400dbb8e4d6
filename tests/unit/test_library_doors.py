"""The libraries are used through their public doors; what is not public about each is held in
one module of its own (`services/adapters/<library>_internals.py`), with the version pinned and
the reason written down there.

A module *touches* a library's internals when it imports a private name or a module the
library does not document, reads an attribute whose name is private to the library on
anything but itself, or overrides a private method in a subclass of a library class.
"""

import ast
import importlib.util
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "projections", "events")

INTERNALS = {
    "eventsourcing": "services/adapters/eventsourcing_internals.py",
    "aiokafka": "services/adapters/aiokafka_internals.py",
}
UNDOCUMENTED_MODULES = {
    "eventsourcing": (),
    "aiokafka": ("aiokafka.client", "aiokafka.protocol", "aiokafka.record", "aiokafka.codec",
                 "aiokafka.producer.message_accumulator", "aiokafka.conn"),
}
DOCUMENTED_HOOKS = {
    "eventsourcing": {
        # Aggregate._create is how eventsourcing's documentation has an aggregate with an
        # explicitly declared created event make itself ("Explicitly defined created events").
        "_create",
    },
    "aiokafka": set(),
}
PYTHON_OWN = {"_replace", "_asdict", "_fields", "_make", "_exit", "_field_defaults"}
"""Underscored names that are Python's own API (namedtuple, os._exit), whoever else has them."""

PRIVATE = re.compile(r"(?:def |class |self\.|^\s*)(_[A-Za-z][A-Za-z0-9_]*)", re.M)


@cache
def private_names(library: str) -> frozenset[str]:
    """Every single-underscore name the library's source defines."""
    spec = importlib.util.find_spec(library)
    assert spec is not None and spec.submodule_search_locations
    names: set[str] = set()
    for location in spec.submodule_search_locations:
        for path in Path(location).rglob("*.py"):
            names.update(name for name in PRIVATE.findall(path.read_text())
                         if not name.startswith("__"))
    return frozenset(names - PYTHON_OWN - DOCUMENTED_HOOKS[library])


def internal_module(library: str, module: str) -> bool:
    parts = module.split(".")
    return (any(part.startswith("_") for part in parts) or any(
        module == name or module.startswith(name + ".")
        for name in UNDOCUMENTED_MODULES[library]))


def touches(path: Path, library: str) -> list[str]:
    """Where the module at `path` touches the library's internals (line: what)."""
    tree = ast.parse(path.read_text())
    privates = private_names(library)
    found: list[str] = []
    from_library: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module.split(".")[0] == library):
            from_library.update(alias.asname or alias.name for alias in node.names)
            if internal_module(library, node.module):
                found.append(f"{node.lineno}: from {node.module} import ...")
            found.extend(f"{node.lineno}: imports {alias.name}" for alias in node.names
                         if alias.name.startswith("_") and alias.name in privates)
        elif isinstance(node, ast.Import):
            found.extend(f"{node.lineno}: import {alias.name}" for alias in node.names
                         if alias.name.split(".")[0] == library
                         and internal_module(library, alias.name))
    if not from_library and not any(isinstance(node, ast.Import) and any(
            alias.name.split(".")[0] == library for alias in node.names)
            for node in ast.walk(tree)):
        return found
    own = {target.attr for node in ast.walk(tree) if isinstance(node, ast.Assign | ast.AnnAssign)
           for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
           if isinstance(target, ast.Attribute)}
    own |= {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in privates:
            is_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if not is_self or node.attr not in own:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.ClassDef) and any(
                (isinstance(base, ast.Name) and base.id in from_library)
                or isinstance(base, ast.Attribute) for base in node.bases):
            found.extend(f"{item.lineno}: overrides {item.name}" for item in node.body
                         if isinstance(item, ast.FunctionDef) and item.name in privates)
    return found


def modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("library", INTERNALS)
def test_one_module_holds_what_is_not_public_of_each_library(library: str) -> None:
    touching = {str(path.relative_to(ROOT)): where for path in modules()
                if (where := touches(path, library))}

    assert set(touching) <= {INTERNALS[library]}, {
        module: where for module, where in touching.items() if module != INTERNALS[library]}
    assert touching, f"{INTERNALS[library]} is where {library}'s internals are used"


def test_faust_is_gone() -> None:
    assert importlib.util.find_spec("faust") is None or not any(
        "faust" in path.read_text() for path in modules())


def test_the_check_sees_an_override_of_a_private_method(tmp_path: Path) -> None:
    module = tmp_path / "recorder.py"
    module.write_text("from eventsourcing.postgres import PostgresApplicationRecorder\n"
                      "class Recorder(PostgresApplicationRecorder):\n"
                      "    def _insert_events(self, curs, events): ...\n")
    assert touches(module, "eventsourcing") == ["3: overrides _insert_events"]
