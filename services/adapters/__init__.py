"""Adapters: where the services meet Kafka and PostgreSQL.

- `kafka`: topics, producer settings; `positions`: Kafka positions as the event store tracks them;
- `event_store`: eventsourcing's application that stores the domain's aggregates;
- `postgres`: its PostgreSQL environment, and the one module that uses the library's internals;
- `prefetch`: a batch's aggregates in one query, kept between batches;
- `following`: the library's subscription to the event store, in batches for asyncio;
- `pools`: the HTTP application's pool of read-model connections, a new one at every start.

The factories of clients, pools and stores here are called by the composition root
(`services.bootstrap`) alone, which hands the services what they use.

The read models' SQL lives with each read model in `projections/`.
"""
