"""Exit 0 once a record can be produced to the broker: `kafka_ready.py BOOTSTRAP SECONDS`."""

import asyncio
import sys
import time

from aiokafka import AIOKafkaProducer


async def produce_once(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await producer.start()
    try:
        await producer.send_and_wait("loyalty.healthcheck", b"ping")
    finally:
        await producer.stop()


def main() -> int:
    bootstrap, seconds = sys.argv[1], float(sys.argv[2])
    deadline = time.monotonic() + seconds
    while True:
        try:
            asyncio.run(produce_once(bootstrap))
            return 0
        except Exception as error:  # any failure means "not yet"
            if time.monotonic() > deadline:
                print(f"not ready: {error!r}", file=sys.stderr)
                return 1
            time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
