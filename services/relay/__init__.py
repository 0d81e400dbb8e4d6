"""The relay: publishes what the event store stored, results and customer events.

Run it with `loyalty relay`. Everything it publishes comes from the event store's notification
log, never from a processor's memory, so a record is published only after what it reports is
durably stored. Its position is stored after the broker acknowledged the records: a crash may
publish a record again, identical, but never loses one.
"""
