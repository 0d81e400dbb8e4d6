"""Fakes of what the bonus window talks to: the pipeline, the read models, the hit counter of
its rate limits. The pipeline applies each login at once to an in-memory `World`."""

from collections import Counter

from services.api.pipeline import PipelineUnavailableError
from services.api.window_reads import CustomerView, LoginOutcome, OperationView
from services.contract.commands import WorkItem
from services.contract.mapping import command_of, result_of
from services.domain import ItemOutcome, ids
from tests.support.domain import World


class FakePipeline:
    """Processes every item it is sent at once, unless it is stalled or down."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.sent: list[WorkItem] = []
        self.stalled = False
        self.down = False

    async def connect(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def send_item(self, item: WorkItem) -> None:
        if self.down:
            raise PipelineUnavailableError("kafka did not acknowledge the record")
        self.sent.append(item)
        if not self.stalled:
            self.world.one(command_of(item))


class WorldReads:
    """The window's reads, answered from the in-memory world."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def customer(self, programme: str, uniq_id: str) -> CustomerView | None:
        found = self.world.customer(uniq_id, programme)
        return None if found is None else CustomerView(found.uniq_id, found.status.value,
                                                       found.balance)

    async def operations(self, programme: str, uniq_id: str) -> list[OperationView]:
        found = self.world.customer(uniq_id, programme)
        accruals = [] if found is None else [
            e for e in self.world.events(found.id) if type(e).__name__ == "PointsAccrued"]
        return [OperationView(e.event_date, e.merchant_name, e.operation_type or "accrual",
                              e.amount) for e in reversed(accruals)][:20]

    async def link_version(self, programme: str, uniq_id: str) -> int:
        found = self.world.customer(uniq_id, programme)
        return 0 if found is None else found.link_version

    async def outcome(self, programme: str, guid: str) -> LoginOutcome | None:
        found = self.world.store.load(ids.item_id(programme, guid))
        if not isinstance(found, ItemOutcome):
            return None
        result = result_of(found.stored_answer)
        return LoginOutcome(None if result.error is None else result.error.code.value,
                            result.messages or [])


class MemoryHits:
    """The rate limits' hits, counted in memory; a window never ends (a test is shorter)."""

    def __init__(self) -> None:
        self.hits: Counter[tuple[bytes, int]] = Counter()

    async def hit(self, key: bytes, seconds: int) -> int:
        self.hits[key, seconds] += 1
        return self.hits[key, seconds]
