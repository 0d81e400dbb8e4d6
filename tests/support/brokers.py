"""The extra Kafka brokers of `deploy/kafka.sh`, for tests that need more than the plain broker.

- The SASL_SSL broker (`deploy/kafka.sh secure ...`): one KRaft node whose only client listener
  is SASL_SSL on 127.0.0.1:19092, with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN. Its certificate is
  signed by a throwaway CA made at its first start (`SECURE_CA`); `SECURE_USER` /
  `SECURE_PASSWORD` work with every mechanism. It asks no client certificate.
- The cluster (`deploy/kafka.sh cluster ...`): three KRaft nodes (each broker and controller) on
  127.0.0.1:29092-29094; replication factor 3, min.insync.replicas 2, no unclean leader
  election. `kill_node` and `start_node` take one node away and bring it back.

State and logs live under `$LOYALTY_HOME` (default ~/.cache/loyalty): kafka-secure/ and
kafka-cluster/node-N/, each with its broker.log.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("LOYALTY_HOME", Path.home() / ".cache" / "loyalty"))

SECURE_BOOTSTRAP = "127.0.0.1:19092"
SECURE_CA = STATE / "kafka-secure" / "tls" / "ca.pem"
"""The throwaway CA that signed the SASL_SSL broker's certificate: what clients must trust."""
SECURE_USER = "loyalty"
SECURE_PASSWORD = "loyalty-secret"
SECURE_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN")

CLUSTER_NODES = (1, 2, 3)
CLUSTER_PORTS = {1: 29092, 2: 29093, 3: 29094}
CLUSTER_BOOTSTRAP = ",".join(f"127.0.0.1:{port}" for port in CLUSTER_PORTS.values())

Family = Literal["secure", "cluster"]


class BrokerScriptError(RuntimeError):
    """`deploy/kafka.sh` failed; the message holds what it wrote to stderr."""


def kafka_sh(*args: str, timeout: float = 300) -> str:
    """Runs `deploy/kafka.sh ARGS...`; returns its stderr (where it reports), raises on failure."""
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(ROOT / "deploy" / "kafka.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise BrokerScriptError(f"deploy/kafka.sh {' '.join(args)} exited {done.returncode}:\n"
                                f"{done.stderr[-4000:]}")
    return done.stderr


def start(family: Family) -> bool:
    """Starts the secure broker or the cluster and waits until it takes records; False when it
    was running already (then it is reused as it is)."""
    report = kafka_sh(family, "start")
    return not ("already running" in report and "starting the broker" not in report)


def stop(family: Family) -> None:
    """SIGTERM the broker(s) of the family that the script started; wait until they exit."""
    kafka_sh(family, "stop")


@contextmanager
def running(family: Family) -> Iterator[None]:
    """The family's broker(s) for the duration; stopped afterwards when started here."""
    started = start(family)
    try:
        yield
    finally:
        if started:
            stop(family)


def kill_node(n: int) -> None:
    """SIGKILL cluster node `n` (1, 2 or 3); returns once the process is gone. Writes to the
    partitions it led wait until the controllers fence it (broker.session.timeout.ms is 6 s)
    and elect other leaders: about 9 s in all, measured."""
    kafka_sh("cluster", "kill", str(n))


def start_node(n: int) -> None:
    """Start cluster node `n` again; returns once it answers and every partition of every topic
    has all its replicas in sync (6-14 s measured)."""
    kafka_sh("cluster", "start-node", str(n))


def secure_kafka_options(mechanism: str = "SCRAM-SHA-512", *, username: str = SECURE_USER,
                         password: str = SECURE_PASSWORD,
                         cafile: str | Path = SECURE_CA) -> dict[str, Any]:
    """aiokafka keyword arguments (producer, consumer, admin) for the SASL_SSL broker."""
    return {
        "bootstrap_servers": SECURE_BOOTSTRAP,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": username,
        "sasl_plain_password": password,
        "ssl_context": create_ssl_context(cafile=str(cafile)),
    }


def secure_environment(mechanism: str = "SCRAM-SHA-512") -> dict[str, str]:
    """The services' settings (environment variables) for the SASL_SSL broker. No client
    certificate: LOYALTY_KAFKA_SSL_CERTFILE and LOYALTY_KAFKA_SSL_KEYFILE stay unset."""
    return {
        "LOYALTY_KAFKA_BOOTSTRAP_SERVERS": SECURE_BOOTSTRAP,
        "LOYALTY_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "LOYALTY_KAFKA_SASL_MECHANISM": mechanism,
        "LOYALTY_KAFKA_SASL_USERNAME": SECURE_USER,
        "LOYALTY_KAFKA_SASL_PASSWORD": SECURE_PASSWORD,
        "LOYALTY_KAFKA_SSL_CAFILE": str(SECURE_CA),
    }
