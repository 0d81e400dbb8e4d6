"""Read models built from the event store: customers, bonus operations, messages, item outcomes.

Each read model is one module with its SQL, how events fold into its rows, and its queries.
`projections.view` writes the rows of every read model and their position in one transaction;
`projections.writer` follows the event store (the read models' one writer); `projections.verify`
compares them with it; `services.projection_commands` is `loyalty projections`.
"""
