"""The results relay: publishes every stored item outcome to `loyalty.results`.

Run it with `loyalty relay`. Results come from the event store's notification log, never from
a processor's memory, so a result is published only after what it reports is durably stored.
The relay's own position is stored after the broker acknowledged the results: a crash may
publish a result again, identical, but never loses one.
"""
