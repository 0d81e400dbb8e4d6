"""`loyalty run`: every service in a child process of its own, stopped together."""

import signal
import socket
import subprocess
import sys
import time

from services.settings import Settings

COMMANDS = {
    "intake": ["intake"],
    "processor": ["processor"],
    "relay": ["relay"],
    "projections-run": ["projections", "run"],
    "api": ["api"],
}
GRACE_SECONDS = 15


def spawn(name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "services.cli", *COMMANDS[name]])


def port_taken(host: str, port: int) -> bool:
    """Whether something already listens there (e.g. another `loyalty run`)."""
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0


def supervise(names: list[str], settings: Settings) -> int:
    """Starts the services, waits until one exits or Ctrl-C, then stops them all."""
    if "api" in names and port_taken(settings.http_host, settings.http_port):
        print(f"loyalty: {settings.http_host}:{settings.http_port} is in use; is `loyalty run`"
              " already running? Nothing was started.", file=sys.stderr)
        return 1
    children = {name: spawn(name) for name in names}
    print(f"loyalty: running {', '.join(names)}; Ctrl-C stops them", file=sys.stderr)
    for signum in (signal.SIGINT, signal.SIGTERM):  # also when started in the background
        signal.signal(signum, signal.default_int_handler)
    code = 0
    try:
        while all(child.poll() is None for child in children.values()):
            time.sleep(0.5)
        failed = [name for name, child in children.items() if child.poll() is not None]
        print(f"loyalty: {', '.join(failed)} exited; stopping the others", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("loyalty: stopping", file=sys.stderr)
    stop_all(list(children.values()))
    return code


def stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
