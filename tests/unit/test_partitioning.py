"""The services put a keyed record on the partition Kafka's own clients would: the same
murmur2 as aiokafka's (and the Java clients'), whatever the key's length."""

import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference

from services.adapters.kafka import murmur2, partition_of


def test_murmur2_is_kafkas_for_every_length_and_byte() -> None:
    draw = random.Random(24)
    keys = [bytes(draw.getrandbits(8) for _ in range(length))
            for length in range(0, 70) for _ in range(50)]
    keys += [b"", b"\xff" * 7, "日本語\x1fキー".encode(), b"default\x1f12345678"]

    assert [murmur2(key) for key in keys] == [reference(key) for key in keys]


def test_a_keyed_record_goes_where_the_producers_partitioner_sends_it() -> None:
    draw = random.Random(7)
    partitioner = DefaultPartitioner()
    for count in (1, 3, 8, 24):
        partitions = list(range(count))
        for _ in range(200):
            key = draw.randbytes(draw.randint(1, 40))
            assert partition_of(key, partitions) == partitioner(key, partitions, partitions)
    assert partition_of(None, [0, 1, 2]) in (0, 1, 2)
