"""A real `puente demo` server for end-to-end tests (subprocess, own temp directory)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.e2e.log_hygiene import leaks_in


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, server: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    # The demo seeds three lenders (CFDI stamping included) before it answers: about 50 s
    # was measured with both cores busy. What the e2e tests check is behaviour, not start-up.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"puente demo exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"puente demo did not answer in {seconds}s:\n{log.read_text()[-3000:]}")


@dataclass(frozen=True)
class DemoServer:
    url: str
    workdir: Path

    @property
    def database(self) -> Path:
        return self.workdir / "var" / "puente.sqlite3"


@pytest.fixture
def demo_server(demo: DemoServer) -> str:
    return demo.url


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    """`puente demo` on a free port, in a temp dir (its own var/ SQLite), stopped afterwards."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUENTE_")}
    env["PYTHONUNBUFFERED"] = "1"
    with tempfile.TemporaryDirectory(prefix="puente-e2e-") as workdir:
        log = Path(workdir) / "server.log"
        with log.open("w") as out:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sys; from puente.cli import main; sys.exit(main(sys.argv[1:]))",
                    *("demo", "--host", "127.0.0.1", "--port", str(port)),
                ],
                cwd=workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                _wait_until_up(url, server, log)
                yield DemoServer(url, Path(workdir))
            finally:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
            # The whole run's logs (requests, provider calls, webhooks) hold no secret.
            leaks = leaks_in(log.read_text())
            assert not leaks, f"secrets in the demo's logs: {leaks}"
