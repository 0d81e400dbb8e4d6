"""Finding where a partition can be read again after records that cannot be read.

A record batch that cannot be read (corrupt on disk, compressed with a codec this process lacks,
or expanding past `LOYALTY_MAX_BATCH_BYTES`) fails every fetch that starts inside it, whatever
the offset sought: the broker returns the whole batch. `first_readable` finds the first offset
after it that reads: it probes ahead at doubling distances, then halves the gap back, so a
batch of a million records costs some forty fetches, each refused at the bound.
"""

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

PROBE_MS = 2000
"""How long one probe waits for its fetch."""


async def readable_at(consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> bool:
    """Whether a fetch from `offset` reads (the records it brings are not kept: the caller
    seeks where it wants to read next)."""
    consumer.seek(tp, offset)
    try:
        await consumer.getmany(tp, timeout_ms=PROBE_MS, max_records=1)
    except KafkaError:
        return False
    return True


async def first_readable(consumer: AIOKafkaConsumer, tp: TopicPartition, unreadable: int,
                         end: int) -> int:
    """The first offset after `unreadable` (an offset whose fetch fails) from which the
    partition reads again; `end` (the log end offset) when none before it does."""
    low, step = unreadable, 1
    while True:  # low cannot be read; look further, twice as far each time
        probe = min(unreadable + step, end)
        if probe >= end or await readable_at(consumer, tp, probe):
            high = probe
            break
        low, step = probe, step * 2
    while high - low > 1:  # low cannot be read, high can (or is the end)
        middle = (low + high) // 2
        if await readable_at(consumer, tp, middle):
            high = middle
        else:
            low = middle
    return high
