"""Stage 1 as a service: commands off `loyalty.commands`, answered at once, their items sent on.

`consumer.CommandConsumer` reads batches of commands; `worker.CommandValidator` checks each with
the pure `services.contract.validation.validate_command` (which never raises, whatever the
bytes) and publishes the items and the stage-1 results, or dead-letters what it cannot.
"""
