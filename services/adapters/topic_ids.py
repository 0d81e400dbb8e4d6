"""Kafka topic ids: which incarnation of a topic a position belongs to.

A topic deleted and created again under the same name starts its offsets at 0 again; a
position stored for the old topic would skip the new topic's records. Kafka gives every topic
a unique id (KIP-516), which the processor stores with its positions; aiokafka's public API
does not give it (`services.adapters.aiokafka_internals` asks for it). A broker too old to
answer yields no ids: positions are then stored as before.
"""

import structlog

from services.adapters.aiokafka_internals import fetch_topic_ids
from services.adapters.kafka import client_options
from services.settings import Settings

log = structlog.get_logger(__name__)


async def topic_ids(settings: Settings, topics: list[str]) -> dict[str, str]:
    """Topic name -> id (a UUID as text) of those of `topics` that exist; empty when the
    broker cannot say."""
    try:
        return await fetch_topic_ids(client_options(settings), topics)
    except NotImplementedError:
        log.warning("the broker gives no topic ids: a recreated topic will not be noticed")
        return {}
