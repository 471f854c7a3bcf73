"""The Banxico CEP simulator on a loopback port: cepmex speaks ``requests``, so real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from puente_sandbox.cep import create_cep_sandbox


@contextmanager
def banxico_server() -> Iterator[tuple[Any, str]]:
    """``(simulator, base URL of its /cep paths)`` while the server runs."""
    app = create_cep_sandbox({}, None)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield app.state.simulator, f"http://127.0.0.1:{port}/cep"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def banxico() -> Iterator[tuple[Any, str]]:
    """The running simulator for a test module (import this fixture where it is used)."""
    with banxico_server() as running:
        yield running
