"""Kafka positions as the event store tracks them."""

from dataclasses import dataclass

from eventsourcing.persistence import Tracking


@dataclass(frozen=True)
class Position:
    """Where a record sits in Kafka: the item's provenance and the processor's progress."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    def tracking(self) -> Tracking:
        """The tracking record that says: everything before the next offset is done."""
        return Tracking(application_name=tracking_name(self.topic, self.partition),
                        notification_id=self.offset + 1)


def tracking_name(topic: str, partition: int) -> str:
    """The tracking name of one partition, as stored beside the events."""
    return f"kafka:{topic}:{partition}"
