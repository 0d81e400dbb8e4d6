"""The vocabulary shared by the read models: tables, the changes a fold asks for, and the batch
that merges a run of changes into a few set-based statements.

A fold is a pure function: it matches a domain event on its class (`events`) and returns the
changes that bring one read model up to date: a row to insert, columns of a row to set, a row to
delete, or (for what cannot be merged, such as arithmetic on a row's current values) a plain
SQL statement. It performs no I/O.

The view gathers the changes of many events in a `Batch`, which merges them per row (a new
customer's row is inserted once, with the phone, e-mail and balance that later events of the
batch set) and writes each table's inserts, updates and deletes as one statement per shape over
arrays (`unnest`), whatever the number of rows. A plain statement is a barrier: the changes
before it are written first, then the statement, so everything still takes effect in the
order of the events.
"""

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from psycopg import sql

Key = tuple[Any, ...]


@dataclass(frozen=True, eq=False)
class Table:
    """A read-model table: its name, its key and the SQL type of every column a fold writes."""

    name: str
    key: tuple[str, ...]
    types: Mapping[str, str]
    joins_customer: tuple[str, ...] = ()
    """Columns an insert copies from the customer's row (`read_models.customers`, joined on
    `customer_id`) instead of taking them from the fold: the programme and the uniqId."""
    unstored: tuple[str, ...] = ()
    """Columns a fold gives that only serve the join (a `customer_id` the table lacks)."""

    def key_of(self, values: Mapping[str, Any]) -> Key:
        return tuple(values[column] for column in self.key)

    @property
    def identifier(self) -> sql.Composable:
        return sql.Identifier(*self.name.split("."))


@dataclass(frozen=True)
class Insert:
    """A new row."""

    table: Table
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Update:
    """New values of some columns of the row with this key."""

    table: Table
    key: Key
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Delete:
    """The row with this key goes (nothing when there is none)."""

    table: Table
    key: Key


@dataclass(frozen=True)
class Statement:
    """One parameterised SQL statement with its named parameters: run on its own, in order."""

    query: sql.SQL | sql.Composed
    params: Mapping[str, object]
    stored: bool = False
    """Whether the parameters are as PostgreSQL stores them already (the batch's own
    statements)."""

    def params_without_nul(self) -> Mapping[str, object]:
        """The parameters as PostgreSQL stores them (see `without_nul`)."""
        if self.stored:
            return self.params
        return {name: without_nul(value) for name, value in self.params.items()}


Change = Insert | Update | Delete | Statement

NotificationId = int

Fold = Callable[[object, NotificationId], list[Change]]
"""(domain event, its notification id) -> changes; the id orders rows deterministically.
Each read model's `fold` matches on the event classes of `events` it needs."""

StateFold = Callable[[UUID, Mapping[str, Any]], list[Change] | None]
"""(aggregate id, an event's stored state as JSON carries it) -> the changes of its `Fold`, or
None when the event itself is needed. Each read model's `STATE_FOLDS` names those it has."""


def without_nul(value: object) -> object:
    """The value as PostgreSQL stores it: any NUL character in a text replaced by U+FFFD.

    PostgreSQL text cannot hold NUL. Stage 1 refuses it, but a read model must never stall on an
    event stored before that rule, or written by another producer of items.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, list):
        return [without_nul(element) for element in value]
    return value


class Cursor(Protocol):
    def execute(self, query: Any, params: Any = ...) -> Any: ...


@dataclass
class Batch:
    """The changes of consecutive events, merged per row, not yet written."""

    inserts: dict[Table, dict[Key, dict[str, Any]]] = field(default_factory=dict)
    updates: dict[Table, dict[Key, dict[str, Any]]] = field(default_factory=dict)
    deletes: dict[Table, dict[Key, None]] = field(default_factory=dict)
    tables: dict[Table, None] = field(default_factory=dict)
    """Every table touched; written in this order, except that the tables whose inserts copy
    from the customers' rows come last, after the customers' own inserts."""
    ready: list[Statement] = field(default_factory=list)
    """Statements of written merges and barriers, in order, waiting for `write`."""

    def add(self, changes: Iterable[Change]) -> None:
        for change in changes:
            match change:
                case Insert(table, values):
                    key = table.key_of(values)
                    if key in self.inserts.get(table, {}) or key in self.updates.get(table, {}) \
                            or key in self.deletes.get(table, {}):
                        self.seal()
                    self._touch(table)
                    self.inserts.setdefault(table, {})[key] = dict(values)
                case Update(table, key, values):
                    self._touch(table)
                    inserted = self.inserts.get(table, {}).get(key)
                    if inserted is not None:
                        inserted.update(values)
                    elif key in self.deletes.get(table, {}):
                        self.seal()
                        self.updates.setdefault(table, {})[key] = dict(values)
                    else:
                        self.updates.setdefault(table, {}).setdefault(key, {}).update(values)
                case Delete(table, key):
                    if key in self.inserts.get(table, {}) or key in self.updates.get(table, {}):
                        self.seal()
                    self._touch(table)
                    self.deletes.setdefault(table, {})[key] = None
                case Statement():
                    self.seal()
                    self.ready.append(change)

    def seal(self) -> None:
        """Turns the merged changes into statements (in `ready`) and starts a new merge."""
        for table in sorted(self.tables, key=lambda table: bool(table.joins_customer)):
            for shape, rows in _by_shape(self.inserts.get(table, {})).items():
                self.ready.append(_insert(table, shape, rows))
            for shape, rows in _by_shape(self.updates.get(table, {}), table.key).items():
                self.ready.append(_update(table, shape, rows))
            if self.deletes.get(table):
                self.ready.append(_delete(table, list(self.deletes[table])))
        self.inserts.clear()
        self.updates.clear()
        self.deletes.clear()
        self.tables.clear()

    def write(self, cursor: Cursor) -> int:
        """Runs every statement of the batch on `cursor` (within the caller's transaction);
        returns how many statements ran. The batch keeps its statements: written again (the
        transaction failed, and is tried again), it writes the same."""
        self.seal()
        for statement in self.ready:
            cursor.execute(statement.query, statement.params_without_nul())
        return len(self.ready)

    def _touch(self, table: Table) -> None:
        self.tables.setdefault(table, None)


Shape = tuple[str, ...]


def _by_shape(rows: Mapping[Key, Mapping[str, Any]],
              key: tuple[str, ...] = ()) -> dict[Shape, list[tuple[Key, Mapping[str, Any]]]]:
    """Rows grouped by the columns they set (one statement per group)."""
    shapes: dict[Shape, list[tuple[Key, Mapping[str, Any]]]] = {}
    for row_key, values in rows.items():
        shape = tuple(sorted(column for column in values if column not in key))
        shapes.setdefault(shape, []).append((row_key, values))
    return shapes


def _arrays(table: Table, columns: Iterable[str]) -> tuple[sql.Composable, list[str]]:
    """`unnest(%(c0)b::type[], ...)` over the columns (arrays in binary: a third of the text
    form's cost to dump), and the names of its parameters."""
    names = []
    parts = []
    for n, column in enumerate(columns):
        names.append(f"c{n}")
        parts.append(sql.SQL("%({})b::{}[]").format(sql.SQL(f"c{n}"),
                                                     sql.SQL(table.types[column])))
    return sql.SQL("unnest({})").format(sql.SQL(", ").join(parts)), names


def _statement(query: sql.SQL, table: Table, names: list[str], columns: Sequence[str],
               values: list[list[Any]]) -> Statement:
    """A statement of the batch over arrays, its parameters made storable."""
    params: dict[str, object] = {}
    for name, column, column_values in zip(names, columns, values, strict=True):
        if table.types[column] == "text":
            params[name] = [without_nul(value) for value in column_values]
        else:
            params[name] = column_values
    return Statement(query, params, stored=True)


@functools.cache
def _insert_query(table: Table, columns: tuple[str, ...]) -> tuple[sql.SQL, list[str]]:
    query, names = _compose_insert(table, columns)
    return _rendered(query), names


def _compose_insert(table: Table, columns: tuple[str, ...]) -> tuple[sql.Composed, list[str]]:
    arrays, names = _arrays(table, columns)
    given = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    stored = [c for c in columns if c not in table.unstored]
    target = sql.SQL(", ").join(sql.Identifier(c) for c in stored)
    selected = sql.SQL(", ").join(sql.Identifier("v", c) for c in stored)
    if not table.joins_customer:
        return sql.SQL("INSERT INTO {table} ({target}) SELECT {selected} "
                       "FROM {arrays} AS v({given})").format(
            table=table.identifier, target=target, given=given, selected=selected,
            arrays=arrays), names
    return sql.SQL(
        "INSERT INTO {table} ({target}, {copied}) SELECT {selected}, {from_customer} "
        "FROM {arrays} AS v({given}) JOIN read_models.customers c "
        "ON c.customer_id = v.customer_id"
    ).format(table=table.identifier, target=target, given=given, selected=selected,
             copied=sql.SQL(", ").join(sql.Identifier(c) for c in table.joins_customer),
             from_customer=sql.SQL(", ").join(sql.Identifier("c", c)
                                              for c in table.joins_customer),
             arrays=arrays), names


@functools.cache
def _update_query(table: Table, shape: Shape) -> tuple[sql.SQL, list[str]]:
    columns = [*table.key, *shape]
    arrays, names = _arrays(table, columns)
    return _rendered(sql.SQL(
        "UPDATE {table} t SET {sets} FROM {arrays} AS v({columns}) WHERE {match}").format(
        table=table.identifier,
        sets=sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c),
                                                          sql.Identifier("v", c))
                                for c in shape),
        arrays=arrays,
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        match=_matching(table))), names


@functools.cache
def _delete_query(table: Table) -> tuple[sql.SQL, list[str]]:
    arrays, names = _arrays(table, table.key)
    return _rendered(sql.SQL(
        "DELETE FROM {table} t USING {arrays} AS v({columns}) WHERE {match}").format(
        table=table.identifier, arrays=arrays,
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in table.key),
        match=_matching(table))), names


def _rendered(query: sql.Composed) -> sql.SQL:
    """The statement as one piece of SQL: psycopg parses it once, not at every execution."""
    return sql.SQL(query.as_string(None))


def _insert(table: Table, shape: Shape, rows: list[tuple[Key, Mapping[str, Any]]]) -> Statement:
    columns = (*table.key, *(c for c in shape if c not in table.key))
    query, names = _insert_query(table, columns)
    return _statement(query, table, names, columns,
                      [[values.get(c) for _, values in rows] for c in columns])


def _update(table: Table, shape: Shape, rows: list[tuple[Key, Mapping[str, Any]]]) -> Statement:
    query, names = _update_query(table, shape)
    values = [[row_key[n] for row_key, _ in rows] for n in range(len(table.key))]
    values += [[values_[c] for _, values_ in rows] for c in shape]
    return _statement(query, table, names, (*table.key, *shape), values)


def _delete(table: Table, keys: list[Key]) -> Statement:
    query, names = _delete_query(table)
    return _statement(query, table, names, table.key,
                      [[key[n] for key in keys] for n in range(len(table.key))])


def _matching(table: Table) -> sql.Composable:
    return sql.SQL(" AND ").join(sql.SQL("{} = {}").format(sql.Identifier("t", c),
                                                           sql.Identifier("v", c))
                                 for c in table.key)
