"""Stage 1 of command intake: format validation of organisers' commands, without any I/O.

`services.contract.validation.validate_command` turns the raw bytes of one command into its
stage-1 `ValidationResult` and the `WorkItem`s that go on to stage 2. It never raises, whatever
the bytes.
"""
