"""Record batches decompressed within a bound: a compressed batch that would expand past it is
refused as unreadable, instead of being expanded whole in memory.

A producer may send a batch of a few megabytes that gzip, lz4, snappy or zstd expand to
gigabytes; aiokafka decompresses every batch whole before it reads a record. `bound_batches`
gives aiokafka's record readers decompressors that stop at `max_bytes` and raise
`DecompressedTooLargeError` (a `CorruptRecordException`), in place of its own
(`services.adapters.aiokafka_internals.replace_decoders`): the consumer then treats the batch as
unreadable (`services.adapters.unreadable`), dead-letters it and goes on.
"""

import zlib
from collections.abc import Callable
from typing import Any

import cramjam
from aiokafka.errors import CorruptRecordException

from services.adapters.aiokafka_internals import is_xerial, replace_decoders

FIRST_BUFFER = 256 * 1024


class DecompressedTooLargeError(CorruptRecordException):
    """A batch that decompresses to more than the bound."""


def gzip_decode(payload: Any, max_bytes: int) -> bytes:
    """gzip (one or several members), stopping past `max_bytes`."""
    data = bytes(payload)
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += inflater.decompress(data, max_bytes - len(out) + 1)
        while inflater.unconsumed_tail and len(out) <= max_bytes:
            out += inflater.decompress(inflater.unconsumed_tail, max_bytes - len(out) + 1)
        if len(out) > max_bytes:
            raise _too_large(max_bytes)
        data = inflater.unused_data
    return bytes(out)


def _into(decompress_into: Callable[[Any, Any], int], payload: Any, max_bytes: int) -> bytes:
    """cramjam's decompression into a buffer that grows up to `max_bytes + 1`: a payload that
    does not fit is refused without being expanded further."""
    size = min(max_bytes + 1, max(FIRST_BUFFER, 8 * len(payload)))
    while True:
        buffer = bytearray(size)
        try:
            written = decompress_into(bytes(payload), buffer)
        except cramjam.DecompressionError:
            if size > max_bytes:
                raise _too_large(max_bytes) from None
            size = min(max_bytes + 1, size * 4)
            continue
        if written > max_bytes:
            raise _too_large(max_bytes)
        return bytes(buffer[:written])


def snappy_decode(payload: Any, max_bytes: int) -> bytes:
    """snappy, raw or in the xerial framing Kafka's Java clients use, stopping past
    `max_bytes`."""
    data = bytes(payload)
    if not is_xerial(data):
        if cramjam.snappy.decompress_raw_len(data) > max_bytes:
            raise _too_large(max_bytes)
        return bytes(cramjam.snappy.decompress_raw(data))
    out = bytearray()
    cursor = 16
    while cursor < len(data):
        block = int.from_bytes(data[cursor:cursor + 4], "big", signed=True)
        cursor += 4
        chunk = data[cursor:cursor + block]
        cursor += block
        if len(out) + cramjam.snappy.decompress_raw_len(chunk) > max_bytes:
            raise _too_large(max_bytes)
        out += bytes(cramjam.snappy.decompress_raw(chunk))
    return bytes(out)


def lz4_decode(payload: Any, max_bytes: int) -> bytes:
    return _into(cramjam.lz4.decompress_into, payload, max_bytes)


def zstd_decode(payload: Any, max_bytes: int) -> bytes:
    return _into(cramjam.zstd.decompress_into, payload, max_bytes)


def _too_large(max_bytes: int) -> DecompressedTooLargeError:
    return DecompressedTooLargeError(
        f"the record batch decompresses to more than {max_bytes} bytes "
        "(LOYALTY_MAX_BATCH_BYTES)")


def bound_batches(max_bytes: int) -> None:
    """Makes every aiokafka record reader of this process decompress within `max_bytes`."""
    replace_decoders({
        "gzip_decode": lambda payload: gzip_decode(payload, max_bytes),
        "snappy_decode": lambda payload: snappy_decode(payload, max_bytes),
        "lz4_decode": lambda payload: lz4_decode(payload, max_bytes),
        "zstd_decode": lambda payload: zstd_decode(payload, max_bytes),
    })
