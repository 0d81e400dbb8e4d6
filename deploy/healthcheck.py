"""The image's HEALTHCHECK: is the service this container runs ready?

It asks `GET /readyz` of the service that the container's command names (`loyalty processor`,
`loyalty projections run`, `loyalty api`, ...), on the port that service listens on with the
container's settings: the API's `LOYALTY_HTTP_PORT` (8080), a worker's `LOYALTY_METRICS_PORT` or
its default (intake 9401, processor 9402, relay 9403, projections 9404, clock 9405).
`LOYALTY_HEALTH_URL` overrides all that. A container that runs no service (`prepare`, `--help`,
`deadletter ...`) is healthy. Exit status 0: ready; 1: not ready, with the service's answer.

    python deploy/healthcheck.py [COMMAND ...]   (default: the command of the container's PID 1)
"""

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from services.settings import Settings

WORKERS = ("intake", "processor", "relay", "clock")
TIMEOUT_SECONDS = 4.0


def service_of(command: list[str]) -> str | None:
    """The service a `loyalty ...` command line runs, or None for anything else."""
    for position, argument in enumerate(command):
        if argument in (*WORKERS, "api"):
            return argument
        if argument == "projections":
            return "projections" if command[position + 1:position + 2] == ["run"] else None
    return None


def url_of(service: str, settings: Settings) -> str | None:
    """Where the service answers /readyz inside its container (None: it serves no port)."""
    port = settings.http_port if service == "api" else settings.metrics_port_of(service)
    return f"http://127.0.0.1:{port}/readyz" if port else None


def container_command() -> list[str]:
    """The command line of the container's first process (the image's `loyalty` entry point,
    or an init that runs it)."""
    return Path("/proc/1/cmdline").read_bytes().decode(errors="replace").split("\0")


def check(url: str) -> tuple[bool, str]:
    """(ready, what the service said)."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return True, response.read(500).decode(errors="replace")
    except urllib.error.HTTPError as error:
        return False, f"{error.code} {error.read(500).decode(errors='replace')}"
    except (OSError, ValueError) as error:
        return False, f"{url}: {error}"


def main(arguments: list[str]) -> int:
    url = os.environ.get("LOYALTY_HEALTH_URL")
    if not url:
        service = service_of(arguments or container_command())
        url = url_of(service, Settings()) if service else None
        if url is None:
            print("no service to check")
            return 0
    ready, said = check(url)
    print(said)
    return 0 if ready else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
