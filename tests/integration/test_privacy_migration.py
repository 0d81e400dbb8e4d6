"""A store that an earlier release filled with personal data in the clear is sealed by
`loyalty privacy migrate`, against a real PostgreSQL: afterwards no stored event holds a phone or
an address readable, every customer reads as before, the indexes are keyed and still keep a
phone to one customer, and the processor, which refused the store before, accepts it.

The store is `tests/fixtures/database_before_versioned_read_models.sql` (see test_upgrade.py).
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from projections.verify import Scope, verify_read_models
from services import bootstrap
from services.adapters.event_store import EventStore
from services.adapters.privacy_migration import events_table_of, mark_new_store, migrate
from services.domain import Customer, Rejection, UnitOfWork, ids
from services.settings import Settings
from tests.conftest import scratch_database
from tests.support.domain import add

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BEFORE = ROOT / "tests/fixtures/database_before_versioned_read_models.sql"


@pytest.fixture
def settings(postgres_server_dsn: str) -> Iterator[Settings]:
    """The earlier release's database, prepared by this release."""
    for dsn in scratch_database(postgres_server_dsn):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(BEFORE.read_text())  # type: ignore[call-overload]
        settings = Settings(postgres_dsn=dsn, postgres_owner_dsn=dsn)
        store = bootstrap.event_store(settings, create_tables=True)
        mark_new_store(dsn, events_table_of(store))  # as `loyalty prepare` does
        store.close()
        bootstrap.create_read_model_tables(settings)
        yield settings


@pytest.fixture
def store(settings: Settings) -> Iterator[EventStore]:
    opened = bootstrap.event_store(settings)
    yield opened
    opened.close()


def customers(settings: Settings) -> list[tuple[str, str, str | None, str | None]]:
    with psycopg.connect(settings.postgres_dsn) as conn:
        return [(row[0], row[1], row[2], row[3]) for row in conn.execute(
            "SELECT programme, uniq_id, phone, email FROM read_models.customers ORDER BY 2")]


def readable(settings: Settings, store: EventStore, values: list[str]) -> list[str]:
    """Those of `values` that some stored event or snapshot holds in the clear."""
    with psycopg.connect(settings.postgres_dsn) as conn:
        states = [bytes(row[0]) for row in conn.execute(
            f"SELECT state FROM {events_table_of(store)}")]
    blob = b"\n".join(states).lower()
    return [value for value in values if value.lower().encode() in blob]


def test_migrate_seals_every_personal_field_and_keys_the_indexes(
    settings: Settings, store: EventStore
) -> None:
    held = customers(settings)
    personal = [value for _, _, phone, email in held for value in (phone, email) if value]
    assert readable(settings, store, personal), "the earlier release stored them in the clear"
    with pytest.raises(bootstrap.NotPreparedError, match="loyalty privacy migrate"):
        bootstrap.refuse_unmigrated(settings)

    changed = migrate(store, settings.postgres_dsn)

    assert changed > 0
    assert readable(settings, store, personal) == []
    for programme, uniq_id, phone, email in held:
        customer: Any = store.load(ids.customer_id(programme, uniq_id))
        assert isinstance(customer, Customer) and (customer.phone, customer.email) == (
            phone, email), uniq_id
    bootstrap.refuse_unmigrated(settings)  # accepted now
    assert migrate(store, settings.postgres_dsn) == 0, "a migrated store is left as it is"
    assert verify_read_models(bootstrap.read_models_writer(settings), Scope()).ok


def test_a_phone_stays_with_its_customer_after_the_migration(
    settings: Settings, store: EventStore
) -> None:
    programme, holder, phone, _ = next(row for row in customers(settings) if row[2])
    assert phone is not None
    migrate(store, settings.postgres_dsn)

    work = UnitOfWork(store.load)
    answer = work.apply(add("newcomer", phone=phone, programme=programme), "loyalty.items:0:999")
    store.save(*work.pending())

    assert answer is not None
    assert answer.rejection is Rejection.PHONE_BELONGS_TO_ANOTHER_CUSTOMER
    index: Any = store.load(ids.phone_id(programme, phone))
    assert index is not None and index.owner == str(ids.customer_id(programme, holder))
    assert store.load(ids.legacy_phone_id(programme, phone)) is None, "moved to its keyed id"
