"""Kafka positions as the event store tracks them.

A position names one record: its topic (and that topic's incarnation, its Kafka topic id, when
the broker gives one), partition and offset, and, for an item of an envelope (a record that
carries several items), the item's index in it. Its one written form,
`topic:partition:offset` (with `/index` for an envelope's item, then `@topic-id` when known), is
what item outcomes store; the event store's tracking table keeps, per partition and
incarnation, the next offset to read.
"""

from dataclasses import dataclass

from eventsourcing.persistence import Tracking


@dataclass(frozen=True)
class Position:
    """Where a record sits in Kafka: the item's provenance and the processor's progress."""

    topic: str
    partition: int
    offset: int
    topic_id: str | None = None
    index: int | None = None
    """The item's place in its record, when the record is an envelope of items."""

    def __str__(self) -> str:
        written = f"{self.topic}:{self.partition}:{self.offset}"
        if self.index is not None:
            written = f"{written}/{self.index}"
        return written if self.topic_id is None else f"{written}@{self.topic_id}"

    def tracking(self) -> Tracking:
        """The tracking record that says: everything before the next offset is done (for an
        envelope's item, only right once the envelope's last item is)."""
        return Tracking(application_name=tracking_name(self.topic, self.partition, self.topic_id),
                        notification_id=self.offset + 1)


def tracking_name(topic: str, partition: int, topic_id: str | None = None) -> str:
    """The tracking name of one partition of one incarnation of a topic."""
    if topic_id is None:
        return f"kafka:{topic}:{partition}"
    return f"kafka:{topic}@{topic_id}:{partition}"


def incarnations_prefix(topic: str) -> str:
    """What the tracking names of every incarnation of `topic` start with."""
    return f"kafka:{topic}@"
