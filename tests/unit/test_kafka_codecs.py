"""A compressed record batch is read within a bound: below it exactly as aiokafka reads it,
past it refused as unreadable without being expanded whole (a gzip, lz4, snappy or zstd
"bomb" of a few kilobytes that expands to gigabytes)."""

import time
from collections.abc import Iterator

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords

from services.adapters.kafka_codecs import DecompressedTooLargeError, bound_batches

CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
BOUND = 2 * 1024 * 1024


@pytest.fixture
def bounded() -> Iterator[None]:
    bound_batches(BOUND)
    yield
    bound_batches(256 * 1024 * 1024)


def batch(codec: int, records: int, size: int) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=codec, is_transactional=False, producer_id=-1,
        producer_epoch=-1, base_sequence=-1, batch_size=2**31 - 1)
    for offset in range(records):
        builder.append(offset, timestamp=None, key=None, value=b"{" + b" " * size + b"}",
                       headers=[])
    return bytes(builder.build())


def values(data: bytes) -> list[bytes]:
    found = MemoryRecords(data).next_batch()
    assert found is not None
    return [record.value for record in found]


@pytest.mark.parametrize("codec", CODECS)
def test_a_batch_within_the_bound_reads_as_it_was_written(codec: str, bounded: None) -> None:
    read = values(batch(CODECS[codec], 10, 100_000))
    assert read == [b"{" + b" " * 100_000 + b"}"] * 10


@pytest.mark.parametrize("codec", CODECS)
def test_a_batch_that_expands_past_the_bound_is_refused_quickly(codec: str,
                                                                bounded: None) -> None:
    bomb = batch(CODECS[codec], 64, 1024 * 1024)  # 64 MiB of spaces in a few megabytes at most
    assert len(bomb) < 4 * 1024 * 1024, "small enough for the broker to accept it"
    started = time.monotonic()
    with pytest.raises(DecompressedTooLargeError, match="more than 2097152 bytes"):
        values(bomb)
    assert time.monotonic() - started < 2, "refused without expanding the whole batch"


def test_the_bound_is_exact() -> None:
    payload = batch(CODECS["gzip"], 1, 1_000_000)
    bound_batches(1_100_000)
    try:
        assert len(values(payload)) == 1
        bound_batches(900_000)
        with pytest.raises(DecompressedTooLargeError):
            values(payload)
    finally:
        bound_batches(256 * 1024 * 1024)
