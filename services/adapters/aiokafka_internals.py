"""Everything this project takes from aiokafka beyond its public API, in one place.

aiokafka 0.14.0 (pinned in constraints.txt); check this module when the pin moves. Each use
has a reason no public door serves:

- **Topic ids** (`fetch_topic_ids`): a topic deleted and created again starts its offsets at 0,
  so the processor stores each position with the topic's id (KIP-516) to tell the
  incarnations apart. aiokafka speaks Metadata only up to version 5, which carries no id; this
  defines Metadata version 12 (Kafka 2.8 and later) with aiokafka's protocol classes and sends
  it through its client (`aiokafka.client`, `aiokafka.protocol`: modules it does not document).
- **Bounded decompression** (`replace_decoders`): aiokafka decompresses every record batch
  whole before it reads a record, so a batch of a few megabytes that zstd expands to gigabytes
  would take the process's memory (tests/faults/test_hostile_organiser.py sends one). There is
  no hook for the decoder, so its record readers' module attributes (`gzip_decode`, ...) are
  replaced, in the C extension's readers and the pure-Python ones
  (`tests/unit/test_kafka_codecs.py` fails if the readers stop using them).
- **Snappy's xerial framing** (`is_xerial`): what Kafka's Java clients write; aiokafka's
  private `codec._detect_xerial_stream` is the check its own reader uses.
"""

import importlib
import uuid
from collections.abc import Callable, Mapping
from io import BytesIO
from typing import Any

from aiokafka import codec
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


async def fetch_topic_ids(options: Mapping[str, Any], topics: list[str]) -> dict[str, str]:
    """Topic name -> id (a UUID as text) of those of `topics` that exist, through a client of
    `options` (`services.adapters.kafka.client_options`). Raises NotImplementedError when the
    broker does not speak Metadata version 12."""
    client = AIOKafkaClient(**options)
    await client.bootstrap()
    try:
        answer = await client.send(client.get_random_node(), TopicIdsRequest(topics))
    finally:
        await client.close()
    return {name: str(topic_id) for error, name, topic_id, *_ in answer.topics
            if not error and topic_id != NO_ID}


DECODERS = ("gzip_decode", "snappy_decode", "lz4_decode", "zstd_decode")
READERS = ("aiokafka.record.default_records", "aiokafka.record._crecords.default_records",
           "aiokafka.record.legacy_records", "aiokafka.record._crecords.legacy_records")


def replace_decoders(decoders: Mapping[str, Callable[[Any], bytes]]) -> None:
    """Makes every aiokafka record reader of this process decompress with `decoders` (by the
    names of `DECODERS`)."""
    for name in READERS:
        try:
            module = importlib.import_module(name)
        except ImportError:  # the pure-Python readers when the C extension is not built
            continue
        for decoder in DECODERS:
            if hasattr(module, decoder):
                setattr(module, decoder, decoders[decoder])


def is_xerial(data: bytes) -> bool:
    """Whether snappy data is in the xerial framing (as aiokafka's own reader decides)."""
    return bool(codec._detect_xerial_stream(data))
