"""Stage 2: applies the items of `loyalty.items` to customer aggregates, exactly once.

Run it with `loyalty processor`. The Kafka position of every record is stored in the same
transaction as the events it caused, and on partition assignment the consumer resumes from the
stored position, so the effect of each item is recorded once whatever the broker's offsets say.
"""
