"""The relay as a service: its Kafka producer around the publisher, from start to stop."""

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaProducer

from services.relay.publisher import Relay


class RelayService:
    """Starts a producer, publishes until `stop` is set, flushes and closes everything."""

    def __init__(self, relay: Relay, producer: Callable[[], AIOKafkaProducer]) -> None:
        self.relay = relay
        self.producer = producer
        """Makes the producer; called in the event loop, where aiokafka must create it."""

    async def run(self, stop: asyncio.Event) -> None:
        producer = self.producer()
        await producer.start()
        try:
            await self.relay.run(producer, stop)
        finally:
            await producer.stop()
            await asyncio.to_thread(self.relay.store.close)
