"""The wire contract: what organisers and the services exchange over Kafka and HTTP.

- `commands`: command names and the validated `WorkItem` that travels on `loyalty.items`;
- `results`: the stage-1 and stage-2 results on `loyalty.results`; `errors`: their codes;
- `topics`: topic names, headers and record keys; `headers`: the records' headers as models;
- `validation` (with `items`, `fields`, `rules`): stage 1, the format checks, pure functions;
- `mapping`: between the wire and the domain (a work item -> a domain command, an answer ->
  a stage-2 result);
- `schemas`, `asyncapi`, `examples`, `publish`: the JSON Schemas of every message and the
  AsyncAPI document of the topics, written to docs/contracts/.

pydantic models, camelCase JSON, exact decimals. Changing a name here changes the interface
that organisers depend on: add, never rename.
"""
