"""Kafka positions as the event store tracks them.

A position names one record: its topic (and that topic's incarnation, its Kafka topic id, when
the broker gives one), partition and offset. Its one written form, `topic:partition:offset`
(with `@topic-id` appended when known), is what item outcomes store; the event store's tracking
table keeps, per partition and incarnation, the next offset to read.
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

    def __str__(self) -> str:
        written = f"{self.topic}:{self.partition}:{self.offset}"
        return written if self.topic_id is None else f"{written}@{self.topic_id}"

    def tracking(self) -> Tracking:
        """The tracking record that says: everything before the next offset is done."""
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
