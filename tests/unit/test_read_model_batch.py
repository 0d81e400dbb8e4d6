"""The read models' batch: changes merged per row, written as few statements, in event order."""

from typing import Any

from psycopg import sql

from projections.folding import Batch, Delete, Insert, Statement, Table, Update

CUSTOMERS = Table("read_models.customers", ("customer_id",),
                  {"customer_id": "uuid", "status": "text", "phone": "text", "balance": "numeric"})
MESSAGES = Table("read_models.messages", ("message_id",),
                 {"message_id": "text", "customer_id": "uuid", "text": "text"},
                 joins_customer=("programme",), unstored=("customer_id",))
ARITHMETIC = sql.SQL("UPDATE read_models.lots SET remaining = remaining - %(amount)s")


class Recorder:
    """Records what would be executed, as (statement text, parameters)."""

    def __init__(self) -> None:
        self.executed: list[tuple[str, dict[str, Any]]] = []

    def execute(self, query: Any, params: Any = None) -> None:
        self.executed.append((query.as_string(None), dict(params or {})))


def written(*changes: Any) -> list[tuple[str, dict[str, Any]]]:
    batch = Batch()
    batch.add(changes)
    recorder = Recorder()
    batch.write(recorder)
    return recorder.executed


def test_a_new_row_is_inserted_once_with_what_later_events_set() -> None:
    executed = written(
        Insert(CUSTOMERS, {"customer_id": "c1", "status": "New"}),
        Update(CUSTOMERS, ("c1",), {"phone": "+79161234567"}),
        Update(CUSTOMERS, ("c1",), {"balance": 10}),
        Update(CUSTOMERS, ("c1",), {"balance": 25}),
    )
    assert len(executed) == 1
    query, params = executed[0]
    assert query.startswith('INSERT INTO "read_models"."customers"')
    columns = query[query.index("(") + 1:query.index(")")].replace('"', "").split(", ")
    assert dict(zip(columns, params.values(), strict=True)) == {
        "customer_id": ["c1"], "balance": [25], "phone": ["+79161234567"], "status": ["New"]}


def test_rows_of_one_shape_share_one_statement_whatever_their_number() -> None:
    executed = written(*(Update(CUSTOMERS, (f"c{n}",), {"balance": n}) for n in range(500)))
    assert len(executed) == 1
    query, params = executed[0]
    assert query.startswith('UPDATE "read_models"."customers"')
    assert list(params.values()) == [[f"c{n}" for n in range(500)], list(range(500))]


def test_updates_of_other_columns_are_separate_statements() -> None:
    executed = written(Update(CUSTOMERS, ("c1",), {"balance": 1}),
                       Update(CUSTOMERS, ("c2",), {"phone": "+7"}))
    assert len(executed) == 2


def test_a_plain_statement_runs_after_the_changes_before_it_and_before_those_after() -> None:
    executed = written(
        Insert(CUSTOMERS, {"customer_id": "c1", "status": "New"}),
        Statement(ARITHMETIC, {"amount": 5}),
        Update(CUSTOMERS, ("c1",), {"balance": 7}),
    )
    kinds = [query.split()[0] for query, _ in executed]
    assert kinds == ["INSERT", "UPDATE", "UPDATE"]
    assert executed[1][1] == {"amount": 5}
    assert executed[2][1] == {"c0": ["c1"], "c1": [7]}


def test_rows_copied_from_customers_are_inserted_after_the_customers() -> None:
    executed = written(
        Insert(MESSAGES, {"message_id": "m1", "customer_id": "c1", "text": "hi"}),
        Insert(CUSTOMERS, {"customer_id": "c1", "status": "New"}),
    )
    assert [query.split()[2] for query, _ in executed] == [
        '"read_models"."customers"', '"read_models"."messages"']
    message_insert = executed[1][0]
    assert "JOIN read_models.customers" in message_insert
    assert '("message_id", "text", "programme")' in message_insert


def test_a_row_deleted_then_inserted_again_keeps_that_order() -> None:
    executed = written(
        Insert(CUSTOMERS, {"customer_id": "c1", "status": "New"}),
        Delete(CUSTOMERS, ("c1",)),
        Insert(CUSTOMERS, {"customer_id": "c1", "status": "Active"}),
    )
    assert [query.split()[0] for query, _ in executed] == ["INSERT", "DELETE", "INSERT"]
    assert executed[2][1]["c1"] == ["Active"]


def test_nul_characters_never_reach_postgresql() -> None:
    executed = written(Insert(CUSTOMERS, {"customer_id": "c1", "status": "a\x00b"}))
    assert ["a\ufffdb"] in executed[0][1].values()


def test_a_batch_written_again_after_its_transaction_failed_writes_the_same_rows() -> None:
    """A transaction that failed (the database went away) is tried again with the same batch:
    were the batch emptied by the first try, the second would store the position without the
    rows, and the read models would skip those events for good."""
    batch = Batch()
    batch.add([Insert(CUSTOMERS, {"customer_id": "c1", "status": "New"}),
               Update(CUSTOMERS, ("c2",), {"status": "Blocked"})])
    first, again = Recorder(), Recorder()
    batch.write(first)
    assert batch.write(again) == 2
    assert again.executed == first.executed
