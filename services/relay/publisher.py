"""Follows the notification log and publishes the stage-2 result of every item outcome event."""

import asyncio

import structlog
from eventsourcing.persistence import Notification, Tracking
from eventsourcing.utils import get_topic

from events.results import ProcessingResult
from services.customers.application import CustomerApplication
from services.customers.domain import ItemOutcome
from services.kafka import producer
from services.settings import Settings

log = structlog.get_logger(__name__)

OUTCOME_EVENTS = (ItemOutcome.ItemProcessed, ItemOutcome.ItemResent, ItemOutcome.GuidReused)
PAGE = 1000
IDLE_WAIT_SECONDS = 0.02


class ResultsRelay:
    """Reads outcome events after the stored position and produces their results, in order."""

    def __init__(self, settings: Settings, app: CustomerApplication) -> None:
        self.settings = settings
        self.app = app
        self.tracking_name = f"relay:{settings.results_topic}"
        self.topics = [get_topic(cls) for cls in OUTCOME_EVENTS]
        self.results_published = 0

    def position(self) -> int:
        return self.app.recorder.max_tracking_id(self.tracking_name) or 0

    def next_page(self, after: int) -> list[Notification]:
        return list(self.app.recorder.select_notifications(
            start=after, limit=PAGE, topics=self.topics, inclusive_of_start=False
        ))

    def results_of(self, notifications: list[Notification]) -> list[ProcessingResult]:
        events = (self.app.mapper.to_domain_event(n) for n in notifications)
        return [ProcessingResult.model_validate(event.result)
                for event in events if isinstance(event, OUTCOME_EVENTS)]

    async def run(self, stop: asyncio.Event) -> None:
        kafka = producer(self.settings)
        await kafka.start()
        try:
            after = await asyncio.to_thread(self.position)
            while not stop.is_set():
                page = await asyncio.to_thread(self.next_page, after)
                if not page:
                    await asyncio.sleep(IDLE_WAIT_SECONDS)
                    continue
                sent = [
                    await kafka.send(self.settings.results_topic, result.to_json(),
                                     key=result.guid.encode())
                    for result in self.results_of(page)
                ]
                await asyncio.gather(*sent)
                after = page[-1].id
                await asyncio.to_thread(self.app.recorder.insert_tracking,
                                        Tracking(self.tracking_name, after))
                self.results_published += len(sent)
        finally:
            await kafka.stop()

