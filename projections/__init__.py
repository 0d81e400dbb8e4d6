"""Read models built from the event store: customers, bonus operations, messages, item outcomes.

Each read model is one module with its SQL, how events fold into its rows, and its queries.
`projections.view` writes the rows of all four and the tracking position in one transaction;
`projections.runner` follows the event store; `projections.cli` is `loyalty projections`.
"""
