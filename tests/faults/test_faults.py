"""Faults injected into a running system while a steady stream of accruals flows.

Every case proves its fault happened mid-stream (commands sent before and during it), then
checks what a user cares about: every accepted item has exactly one outcome and its results are
identical, balances equal the accepted amounts, the services run again with no one acting, and
an ordinary command sent afterwards is processed.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.faults.system import (
    ROOT,
    SERVICES,
    Ledger,
    Results,
    Sent,
    Stream,
    System,
    accrual_command,
    producer,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

STATE = Path(os.environ.get("LOYALTY_HOME", Path.home() / ".cache" / "loyalty"))


def deploy(script: str, action: str) -> None:
    """One of the project's deploy scripts, as an operator runs it."""
    subprocess.run(["bash", f"deploy/{script}", action], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHON": sys.executable})


def settle(system: System, sent: Sent, results: Results, ledger: Ledger) -> None:
    """After a fault: the services run again by themselves, every command is answered, the
    invariants hold, and an ordinary command sent now is processed."""
    wait_until(system.all_running, 120, "every service to run again")
    results.wait_for_every_answer(sent)
    ordinary = Stream(system, sent)
    command_id = ordinary.send([f"after-{uuid.uuid4().hex[:6]}"])
    assert ordinary.producer.flush(60) == 0
    results.wait_for_every_answer(sent)
    assert set(sent.guids[command_id]) <= results.accepted()
    ledger.check()


def flowed(stream: Stream, results: Results, sent: Sent, more_than: int) -> bool:
    return len(results.accepted() & set(sent.items)) > more_than


def test_every_service_killed_in_turn_is_restarted_and_nothing_is_lost(
    system: System, sent: Sent, results: Results, ledger: Ledger
) -> None:
    with Stream(system, sent) as stream:
        wait_until(lambda: flowed(stream, results, sent, 20), 120, "the stream to flow")
        for service in SERVICES:
            killed = system.kill(service)
            sent_at_kill = stream.count
            wait_until(lambda s=service, k=killed: system.children().get(s) not in (None, k),
                       90, f"{service} to be restarted")
            wait_until(lambda n=sent_at_kill: stream.count > n + 10, 30,
                       "the stream to go on")

    settle(system, sent, results, ledger)
    for service in ("intake", "processor", "relay", "projections-run", "clock", "api"):
        assert system.metric("loyalty_service_restarts_total", service=service) >= 1, service
    assert '"event": "service exited; restarting it"' in system.log()


def test_the_broker_killed_mid_stream_and_started_again_loses_and_doubles_nothing(
    system: System, sent: Sent, results: Results, ledger: Ledger
) -> None:
    pid_file = STATE / "kafka" / "broker.pid"
    if not pid_file.exists():
        pytest.skip("the broker was not started by deploy/kafka.sh")
    broker = int(pid_file.read_text())
    with Stream(system, sent) as stream:
        wait_until(lambda: flowed(stream, results, sent, 20), 120, "the stream to flow")
        os.kill(broker, signal.SIGKILL)
        wait_until(lambda: not Path(f"/proc/{broker}").exists(), 30, "the broker to die")
        sent_while_down = stream.count
        wait_until(lambda: stream.count > sent_while_down + 20, 30, "commands sent meanwhile")
        deploy("kafka.sh", "start")
        accepted_at_restart = len(results.accepted() & set(sent.items))
        wait_until(lambda: flowed(stream, results, sent, accepted_at_restart + 20), 180,
                   "new commands to be accepted after the restart")

    settle(system, sent, results, ledger)


def test_every_command_produced_twice_is_applied_once(
    system: System, sent: Sent, results: Results, ledger: Ledger
) -> None:
    before = len(sent.commands)
    with Stream(system, sent, twice=True) as stream:
        wait_until(lambda: stream.count > 40, 60, "commands sent twice")

    settle(system, sent, results, ledger)
    twice = list(sent.guids)[before:before + 40]
    for command_id in twice:
        for guid in sent.guids[command_id]:
            assert len(results.processing[guid]) >= 2, guid  # answered twice, identically


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_a_command_compressed_with_each_codec_by_the_console_producer(
    codec: str, system: System, sent: Sent, results: Results, ledger: Ledger
) -> None:
    pids = system.children()
    value, guids = accrual_command([f"{codec}-{uuid.uuid4().hex[:6]}"] * 2)
    with Stream(system, sent) as stream:
        wait_until(lambda: stream.count > 5, 60, "the stream to flow")
        subprocess.run(["bash", "deploy/kafka.sh", "produce", system.topic("commands"),
                        "--compression-codec", codec], cwd=ROOT, input=value + b"\n",
                       check=True, capture_output=True)
    for guid, uniq_id in guids.items():
        sent.items[guid] = (uniq_id, Decimal("1.25"))
    wait_until(lambda: set(guids) <= results.accepted() and results.answered(set(guids)), 120,
               f"the {codec} command to be processed")

    settle(system, sent, results, ledger)
    assert system.children() == pids, "a service restarted"


def letters(system: System) -> list[dict[str, object]]:
    listed = subprocess.run([sys.executable, "-m", "services.cli", "deadletter", "list",
                             "--json"], cwd=ROOT, env=system.env, check=True,
                            capture_output=True, text=True)
    return [json.loads(line) for line in listed.stdout.splitlines()]


def test_poison_records_go_to_the_dead_letter_topic_and_nothing_stops(
    system: System, sent: Sent, results: Results, ledger: Ledger
) -> None:
    pids = system.children()
    raw = producer(system.bootstrap)
    items, commands = system.topic("items"), system.topic("commands")
    crafted_item = {"commandId": "c-crafted", "typeOfCommand": "addCustomerPointMessage",
                    "programme": "Y/customer/Z", "guid": str(uuid.uuid4()), "uniqId": "Z",
                    "phone": "+79161234567"}
    readable_but_broken = {"commandId": "c-broken", "typeOfCommand": "addCustomerPointMessage",
                           "programme": "default", "guid": str(uuid.uuid4()), "uniqId": "u-1",
                           "accrual": {"amount": "lots"}}
    poison_items = [b"\x00\xff garbage", b'{"hello": "world"}', None,
                    json.dumps(crafted_item).encode(), json.dumps(readable_but_broken).encode()]
    crafted_command = accrual_command(["Z/phone/+79161234567"])[0]
    with Stream(system, sent) as stream:
        wait_until(lambda: stream.count > 5, 60, "the stream to flow")
        for value in poison_items:
            raw.produce(items, value, key=b"poison", headers=[("x", b"\xff\xfe")])
        raw.produce(items, None)  # neither key nor value
        raw.produce(commands, None, headers=[("commandId", b"c-tombstone")])
        raw.produce(commands, crafted_command,
                    headers=[("programme", b"Y/customer/Z"), ("commandId", b"c-slash")])
        raw.produce(commands, crafted_command,
                    headers=[("programme", b"\xff\xfe"), ("commandId", b"c-not-utf8")])
        raw.produce(commands, crafted_command,
                    headers=[("programme", b"Y"), ("commandId", b"c-crafted-uniq")])
        assert raw.flush(60) == 0
        sent_after_poison = stream.count
        wait_until(lambda: stream.count > sent_after_poison + 10, 30, "the stream to go on")

    wait_until(lambda: {"c-tombstone", "c-slash", "c-not-utf8", "c-crafted-uniq"}
               <= set(results.validation), 120, "the commands' stage-1 results")
    errors = {command_id: (results.validation[command_id].get("error") or {}).get("code")
              for command_id in ("c-tombstone", "c-slash", "c-not-utf8", "c-crafted-uniq")}
    assert errors == {"c-tombstone": "INVALID_JSON", "c-slash": "INVALID_PROGRAMME",
                      "c-not-utf8": "INVALID_PROGRAMME", "c-crafted-uniq": None}
    (crafted_uniq,) = results.validation["c-crafted-uniq"]["results"]
    wait_until(lambda: results.answered({crafted_uniq["guid"]}), 60, "the crafted uniqId")
    assert results.processing[crafted_uniq["guid"]][0]["status"] == "Success"
    wait_until(lambda: results.answered({readable_but_broken["guid"]}), 60, "a failed answer")
    failed = results.processing[readable_but_broken["guid"]][0]
    assert (failed["status"], failed["error"]["code"]) == ("Error", "PROCESSING_FAILED")
    wait_until(lambda: len([letter for letter in letters(system)
                            if letter["origin"].startswith(items)]) == 6, 60, "dead letters")
    assert {letter["service"] for letter in letters(system)} == {"processor"}
    assert system.metric("loyalty_dead_letters_total", of="processor") == 6
    assert system.metric("loyalty_records_total", of="processor", outcome="failed") == 6

    settle(system, sent, results, ledger)
    assert system.children() == pids, "a service restarted"


def recreate(system: System, topic: str) -> None:
    """Deletes the topic and creates it again, as an operator would."""

    async def again() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=system.bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([topic])
            for _ in range(120):  # the broker deletes asynchronously
                try:
                    await admin.create_topics([NewTopic(topic, 8, 1)])
                    return
                except Exception:
                    await asyncio.sleep(0.5)
        finally:
            await admin.close()

    asyncio.run(again())


def send_unanswered_again(system: System, sent: Sent, results: Results) -> None:
    """The organiser sends again every command whose items lack an answer (lost with the
    topic that was deleted)."""
    unanswered = [command_id for command_id, guids in sent.guids.items()
                  if not results.answered(set(guids) & results.accepted())
                  or not set(guids) <= results.accepted()]
    resender = Stream(system, sent)
    for command_id in unanswered:
        resender.resend(command_id, sent.commands[command_id], sent.guids[command_id], 1)
    assert resender.producer.flush(60) == 0


def test_a_deleted_and_recreated_items_topic_is_read_from_its_beginning(
    system: System, sent: Sent, results: Results, ledger: Ledger
) -> None:
    with Stream(system, sent) as stream:
        wait_until(lambda: flowed(stream, results, sent, 20), 120, "the stream to flow")
        recreate(system, system.topic("items"))
        sent_after = stream.count
        wait_until(lambda: stream.count > sent_after + 40, 60, "commands on the new topic")

    send_unanswered_again(system, sent, results)
    settle(system, sent, results, ledger)
    assert "the items topic was created anew" in system.log()


def test_a_recreated_commands_topic_under_a_running_intake_gets_intake_restarted(
    system: System, sent: Sent, results: Results, ledger: Ledger
) -> None:
    restarts = system.metric("loyalty_service_restarts_total", service="intake")
    with Stream(system, sent) as stream:
        wait_until(lambda: flowed(stream, results, sent, 20), 120, "the stream to flow")
        recreate(system, system.topic("commands"))
        wait_until(lambda: system.metric("loyalty_service_restarts_total", service="intake")
                   > restarts, 120, "the intake's watchdog to restart it")
        accepted = len(results.accepted() & set(sent.items))
        wait_until(lambda: flowed(stream, results, sent, accepted + 20), 120,
                   "commands on the new topic to be answered")

    send_unanswered_again(system, sent, results)
    settle(system, sent, results, ledger)
    assert "was deleted and created again" in system.log()


def damage_on_disk(topic_dir: Path, marker: bytes) -> None:
    """Changes one byte of `marker` in the partition's segment files: the batch that holds it no
    longer matches its CRC (the broker, stopped cleanly, does not check it again at start)."""
    damaged = 0
    for segment in topic_dir.glob("*.log"):
        content = bytearray(segment.read_bytes())
        at = content.find(marker)
        if at >= 0:
            content[at] ^= 0x20
            segment.write_bytes(bytes(content))
            damaged += 1
    assert damaged == 1, f"the record was found in {damaged} segments"


def test_a_batch_corrupt_on_disk_is_dead_lettered_and_the_stream_goes_on(
    system: System, sent: Sent, results: Results, ledger: Ledger
) -> None:
    if not (STATE / "kafka" / "broker.pid").exists():
        pytest.skip("the broker was not started by deploy/kafka.sh")
    items = system.topic("items")
    marker = f"damaged-{uuid.uuid4().hex}".encode()
    raw = producer(system.bootstrap)
    earlier = {letter["origin"] for letter in letters(system)}
    with Stream(system, sent) as stream:
        wait_until(lambda: flowed(stream, results, sent, 20), 120, "the stream to flow")
        system.stop()  # no service may read the record before it is damaged
        raw.produce(items, marker, key=b"damaged", partition=0)
        assert raw.flush(60) == 0
        deploy("kafka.sh", "stop")
        damage_on_disk(STATE / "kafka" / "data" / f"{items}-0", marker)
        deploy("kafka.sh", "start")
        system.start()
        accepted_at_restart = len(results.accepted() & set(sent.items))
        wait_until(lambda: flowed(stream, results, sent, accepted_at_restart + 20), 180,
                   "new commands to be accepted after the damage")

    settle(system, sent, results, ledger)
    assert "unreadable record dead-lettered and skipped" in system.log()
    damaged = [letter for letter in letters(system)
               if letter["origin"] not in earlier and letter["origin"].startswith(f"{items}:0:")]
    assert [(letter["service"], letter["bytes"]) for letter in damaged] == [("processor", None)]
    assert "CorruptRecord" in str(damaged[0]["error"])
    assert system.metric("loyalty_service_restarts_total") == 0, "a service crashed"
