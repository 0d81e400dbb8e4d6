"""The image's health check (deploy/healthcheck.py) and the Dockerfile that runs it."""

import importlib.util
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from services.settings import METRICS_PORTS, Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()


def load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "deploy" / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = load_healthcheck()


@pytest.mark.parametrize(("command", "service"), [
    (["/usr/local/bin/python3.11", "/usr/local/bin/loyalty", "processor"], "processor"),
    (["/sbin/docker-init", "--", "loyalty", "intake"], "intake"),
    (["python", "/usr/local/bin/loyalty", "projections", "run"], "projections"),
    (["python", "/usr/local/bin/loyalty", "projections", "rebuild"], None),
    (["python", "/usr/local/bin/loyalty", "api"], "api"),
    (["python", "/usr/local/bin/loyalty", "prepare"], None),
    (["python", "/usr/local/bin/loyalty", "--help"], None),
])
def test_the_service_is_found_in_the_containers_command(command: list[str],
                                                        service: str | None) -> None:
    assert healthcheck.service_of(command) == service


def test_each_service_is_asked_on_its_own_port() -> None:
    settings = Settings()
    for service, port in METRICS_PORTS.items():
        if service != "run":
            assert healthcheck.url_of(service, settings) == f"http://127.0.0.1:{port}/readyz"
    assert healthcheck.url_of("api", settings) == "http://127.0.0.1:8080/readyz"
    assert healthcheck.url_of("relay", Settings(metrics_port=9999)).endswith(":9999/readyz")
    assert healthcheck.url_of("api", Settings(http_port=8081)).endswith(":8081/readyz")
    assert healthcheck.url_of("clock", Settings(metrics_port=0)) is None


class Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/ready/readyz" else 503
        body = b'{"ready": true}' if status == 200 else b'{"ready": false, "why": "no partitions"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def service() -> Iterator[str]:
    """A stand-in for a service's health endpoints, on a free loopback port of this process."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_ready_is_healthy_and_anything_else_is_not(service: str, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LOYALTY_HEALTH_URL", f"{service}/ready/readyz")
    assert healthcheck.main([]) == 0

    monkeypatch.setenv("LOYALTY_HEALTH_URL", f"{service}/stuck/readyz")
    assert healthcheck.main([]) == 1
    assert "503" in capsys.readouterr().out  # the service's reason, in `docker inspect`

    monkeypatch.setenv("LOYALTY_HEALTH_URL", "http://127.0.0.1:1/readyz")
    assert healthcheck.main([]) == 1


def test_a_container_without_a_service_is_healthy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOYALTY_HEALTH_URL", raising=False)
    assert healthcheck.main(["loyalty", "prepare"]) == 0


def test_the_image_runs_the_health_check_as_its_own_user() -> None:
    assert re.search(r"^HEALTHCHECK .*\\\n\s+CMD \[\"python\", \"/app/healthcheck.py\"\]",
                     DOCKERFILE, re.MULTILINE)
    assert "COPY deploy/healthcheck.py ./healthcheck.py" in DOCKERFILE
    assert "useradd --system --uid 10001 --gid 10001" in DOCKERFILE
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.MULTILINE)
    (exposed,) = re.findall(r"^EXPOSE (.*)$", DOCKERFILE, re.MULTILINE)
    assert {int(port) for port in exposed.split()} == {
        8080, *(port for service, port in METRICS_PORTS.items() if service != "run")}
