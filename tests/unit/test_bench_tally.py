"""The benchmark's tally of the results topic: at-least-once repeats must not stop it."""

import json

from tools.bench.results import ResultsTally
from tools.bench.workload import BenchCommand, Workload


def stage1(command: BenchCommand) -> bytes:
    return json.dumps({"results": [
        {"guid": guid, "status": "Success" if guid in command.valid_guids else "Error"}
        for guid in command.guids
    ]}).encode()


def stage2(guid: str) -> bytes:
    return json.dumps({"guid": guid, "status": "Success"}).encode()


def test_a_command_validated_twice_is_counted_once_and_the_phase_still_ends() -> None:
    commands = Workload(customers=50, invalid_share=0.2, seed=3).commands(40, 10)
    tally = ResultsTally()
    for command in commands:
        tally.expect(command)
    for command in commands:
        tally.record(command.command_id.encode(), stage1(command), now=1.0)
    tally.record(commands[0].command_id.encode(), stage1(commands[0]), now=2.0)
    for command in commands:
        for guid in sorted(command.valid_guids):
            tally.record(guid.encode(), stage2(guid), now=3.0)
            tally.record(guid.encode(), stage2(guid), now=4.0)

    assert tally.stage1_done and tally.done
    assert tally.items_validated == 40
    assert tally.accepted_and_processed == len(tally.accepted) == tally.expected_valid
    assert tally.last_validation == 1.0 and tally.last_processing == 3.0


def test_the_phase_is_not_done_while_an_accepted_item_has_no_stage_2_result() -> None:
    command = Workload(customers=5, invalid_share=0.0, seed=4).commands(3, 3)[0]
    tally = ResultsTally()
    tally.expect(command)
    tally.record(command.command_id.encode(), stage1(command), now=1.0)
    for guid in command.guids[:2]:
        tally.record(guid.encode(), stage2(guid), now=2.0)

    assert tally.stage1_done and not tally.done
