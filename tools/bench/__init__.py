"""`loyalty bench`: the pipeline measured against this machine's ceilings.

Run it with `loyalty bench --items 200000` (see docs/benchmarks.md). It starts intake,
processor, relay and projections as child processes on topics and a database of their own,
offers them a realistic workload, and prints the pipeline's figures beside raw Kafka and raw
PostgreSQL on the same volume.
"""
