"""The bonus window's login rate limits live in PostgreSQL: two API instances on one database
share them, under the services' role, which `loyalty prepare`'s grant lets count."""

import asyncio
import re
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from projections.migrations import migrate
from services import bootstrap
from services.adapters.pools import read_pool
from services.api.links import LinkSigner
from services.api.login_limits import TABLE, PostgresHits
from services.settings import Settings
from tests.conftest import service_dsn
from tests.support.domain import World, add
from tests.support.window import FakePipeline, WorldReads

pytestmark = pytest.mark.integration

SECRET = "integration-test link secret, long enough"


@pytest.fixture(scope="module")
def settings(module_postgres_dsn: str) -> Settings:
    settings = Settings(
        postgres_dsn=service_dsn(module_postgres_dsn), postgres_owner_dsn=module_postgres_dsn,
        dev_mode=True, link_secret=SECRET,
        # windows far longer than the test, so that none straddles two of them
        login_rate_per_link="10/year", login_rate_per_address="15/year")
    migrate(settings.postgres_owner_dsn)
    bootstrap.grant_services(settings)
    return settings


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def instances(settings: Settings, world: World) -> Iterator[tuple[TestClient, TestClient]]:
    """Two API instances on one database (each its own pool and hit counter) and one world;
    no hits counted yet."""
    with psycopg.connect(settings.postgres_owner_dsn, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLE}")
    pipeline = FakePipeline(world)
    apps = [bootstrap.api(settings, pipeline=pipeline, window_reads=WorldReads(world))
            for _ in range(2)]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        yield first, second


def log_in(client: TestClient, path: str) -> int:
    """Opens the link's page, then posts its login form, as the page's script does."""
    opened = client.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', opened.text)
    assert found is not None, opened.text
    return client.post(path, data={"csrf": found.group(1)}).status_code


def link(uniq_id: str) -> str:
    return f"/window/{LinkSigner(SECRET).token('default', uniq_id, 0)[0]}"


def test_the_limit_per_link_holds_across_two_api_instances(
    instances: tuple[TestClient, TestClient], world: World
) -> None:
    world.one(add("ann", amount="1"))
    path = link("ann")

    codes = [log_in(instances[n % 2], path) for n in range(12)]

    assert codes == [200] * 10 + [429, 429]


def test_the_limit_per_address_holds_across_two_api_instances(
    instances: tuple[TestClient, TestClient], world: World
) -> None:
    paths = []
    for n in range(4):
        world.one(add(f"bob-{n}", amount="1"))
        paths.append(link(f"bob-{n}"))

    codes = [log_in(instances[n % 2], paths[n // 4]) for n in range(16)]

    assert codes == [200] * 15 + [429]


def test_concurrent_hits_on_two_instances_are_each_counted_once(settings: Settings) -> None:
    async def hits() -> list[int]:
        pools = [read_pool(settings), read_pool(settings)]
        for pool in pools:
            await pool.open()
        try:
            counters = [PostgresHits(pool) for pool in pools]
            key = uuid.uuid4().bytes
            return list(await asyncio.gather(*(
                counters[n % 2].hit(key, 3600) for n in range(40))))
        finally:
            for pool in pools:
                await pool.close()

    assert sorted(asyncio.run(hits())) == list(range(1, 41))
