"""Exit 0 once a record can be produced to the broker: `kafka_ready.py BOOTSTRAP SECONDS`.

Options (for deploy/kafka.sh's SASL_SSL broker and three-node cluster):
  --acks all                 the record must reach every in-sync replica
  --brokers N                and the cluster's metadata must list at least N brokers
  --in-sync                  and every partition of every topic must have all its replicas in sync
  --security-protocol SASL_SSL --sasl-mechanism SCRAM-SHA-512 --username U --password P
  --cafile CA.pem            how to connect (plaintext when no protocol is given)
  --pid PID                  give up at once when this process (a broker starting) has exited
"""

import argparse
import asyncio
import logging
import sys
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bootstrap")
    parser.add_argument("seconds", type=float)
    parser.add_argument("--acks", default="1", choices=["1", "all"])
    parser.add_argument("--brokers", type=int, default=0)
    parser.add_argument("--in-sync", action="store_true")
    parser.add_argument("--security-protocol", default="PLAINTEXT",
                        choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
    parser.add_argument("--sasl-mechanism", default="PLAIN",
                        choices=["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--cafile")
    parser.add_argument("--pid", type=int, action="append", default=[])
    return parser.parse_args(argv)


def connection(args: argparse.Namespace) -> dict[str, Any]:
    """aiokafka's keyword arguments for reaching the broker the way the options say."""
    options: dict[str, Any] = {"bootstrap_servers": args.bootstrap, "request_timeout_ms": 5000,
                               "security_protocol": args.security_protocol}
    if args.security_protocol.startswith("SASL_"):
        options.update(sasl_mechanism=args.sasl_mechanism, sasl_plain_username=args.username,
                       sasl_plain_password=args.password)
    if args.security_protocol.endswith("SSL"):
        options["ssl_context"] = create_ssl_context(cafile=args.cafile)
    return options


async def check_once(args: argparse.Namespace) -> None:
    options = connection(args)
    producer = AIOKafkaProducer(acks=args.acks if args.acks == "all" else 1, **options)
    try:
        await producer.start()
        await producer.send_and_wait("loyalty.healthcheck", b"ping")
    finally:
        await producer.stop()
    if not (args.brokers or args.in_sync):
        return
    admin = AIOKafkaAdminClient(**options)
    try:
        await admin.start()
        brokers = (await admin.describe_cluster())["brokers"]
        if len(brokers) < args.brokers:
            raise RuntimeError(f"{len(brokers)} of {args.brokers} brokers in the metadata")
        if args.in_sync:
            lagging = [f"{topic['topic']}-{partition['partition']}"
                       for topic in await admin.describe_topics()
                       for partition in topic["partitions"]
                       if set(partition["isr"]) != set(partition["replicas"])]
            if lagging:
                raise RuntimeError(f"{len(lagging)} partitions not fully in sync, e.g. "
                                   f"{', '.join(lagging[:3])}")
    finally:
        await admin.close()


def exited(pids: list[int]) -> int | None:
    """The first of these processes that no longer runs (gone, or a zombie not yet reaped)."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rpartition(")")[2].split()[0] == "Z":
                    return pid
        except FileNotFoundError:
            return pid
    return None


def main() -> int:
    args = parse(sys.argv[1:])
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # each attempt's failure: noise
    deadline = time.monotonic() + args.seconds
    while True:
        if (pid := exited(args.pid)) is not None:
            print(f"the broker (pid {pid}) has exited", file=sys.stderr)
            return 1
        try:
            asyncio.run(check_once(args))
            return 0
        except Exception as error:  # any failure means "not yet"
            if time.monotonic() > deadline:
                print(f"not ready: {error!r}", file=sys.stderr)
                return 1
            time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
