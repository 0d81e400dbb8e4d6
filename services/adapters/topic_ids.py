"""Kafka topic ids: which incarnation of a topic a position belongs to.

A topic deleted and created again under the same name starts its offsets at 0 again; a
position stored for the old topic would skip the new topic's records. Kafka gives every topic
a unique id (KIP-516), which the processor stores with its positions. aiokafka 0.14 speaks
Metadata only up to version 5, which carries no id, so this module defines Metadata version 12
(Kafka 2.8 and later) with aiokafka's own protocol classes and sends it through aiokafka's
client. A broker too old to answer it yields no ids: positions are then stored as before.
"""

import uuid
from io import BytesIO
from typing import Any

import structlog
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.abstract import AbstractType
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    Boolean,
    CompactArray,
    CompactString,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

from services.adapters.kafka import client_options
from services.settings import Settings

log = structlog.get_logger(__name__)

METADATA = 3
NO_ID = uuid.UUID(int=0)


class Uuid(AbstractType[uuid.UUID]):
    """Kafka's UUID on the wire: 16 bytes (all zeros: no id)."""

    @classmethod
    def encode(cls, value: uuid.UUID | None) -> bytes:
        return (value or NO_ID).bytes

    @classmethod
    def decode(cls, data: BytesIO) -> uuid.UUID:
        raw = data.read(16)
        if len(raw) != 16:
            raise ValueError("buffer underrun decoding a UUID")
        return uuid.UUID(bytes=raw)


class MetadataResponseV12(Response):
    API_KEY = METADATA
    API_VERSION = 12
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("brokers", CompactArray(("node_id", Int32), ("host", CompactString("utf-8")),
                                 ("port", Int32), ("rack", CompactString("utf-8")),
                                 ("tags", TaggedFields))),
        ("cluster_id", CompactString("utf-8")),
        ("controller_id", Int32),
        ("topics", CompactArray(
            ("error_code", Int16), ("name", CompactString("utf-8")), ("topic_id", Uuid),
            ("is_internal", Boolean),
            ("partitions", CompactArray(
                ("error_code", Int16), ("partition_index", Int32), ("leader_id", Int32),
                ("leader_epoch", Int32), ("replica_nodes", CompactArray(Int32)),
                ("isr_nodes", CompactArray(Int32)), ("offline_replicas", CompactArray(Int32)),
                ("tags", TaggedFields))),
            ("topic_authorized_operations", Int32), ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class MetadataRequestV12(RequestStruct):
    API_KEY = METADATA
    API_VERSION = 12
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = MetadataResponseV12
    SCHEMA = Schema(
        ("topics", CompactArray(("topic_id", Uuid), ("name", CompactString("utf-8")),
                                ("tags", TaggedFields))),
        ("allow_auto_topic_creation", Boolean),
        ("include_topic_authorized_operations", Boolean),
        ("tags", TaggedFields),
    )


class TopicIdsRequest(Request[MetadataRequestV12]):
    """Metadata of the named topics, at version 12; never creates a topic."""

    API_KEY = METADATA

    def __init__(self, topics: list[str]) -> None:
        self.topics = topics

    def build(self, request_struct_class: Any) -> MetadataRequestV12:
        named: list[tuple[uuid.UUID, str, dict[str, Any]]] = [
            (NO_ID, name, {}) for name in self.topics]
        struct: MetadataRequestV12 = request_struct_class(named, False, False, {})
        return struct


async def topic_ids(settings: Settings, topics: list[str]) -> dict[str, str]:
    """Topic name -> id (a UUID as text) of those of `topics` that exist; empty when the
    broker cannot say."""
    client = AIOKafkaClient(**client_options(settings))
    await client.bootstrap()
    try:
        answer = await client.send(client.get_random_node(), TopicIdsRequest(topics))
    except NotImplementedError:
        log.warning("the broker gives no topic ids: a recreated topic will not be noticed")
        return {}
    finally:
        await client.close()
    return {name: str(topic_id) for error, name, topic_id, *_ in answer.topics
            if not error and topic_id != NO_ID}
