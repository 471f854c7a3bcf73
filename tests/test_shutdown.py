"""Stopping promptly: the stop signals reach the app, live streams end, serve has a deadline.

The end-to-end case (``puente serve`` with an SSE stream and a subscription open at SIGTERM)
is ``tests/scale/test_graceful_shutdown.py``.
"""

from __future__ import annotations

import asyncio
import base64
import signal
import time
from collections.abc import Iterator
from types import FrameType

import pytest

from puente.cli import main as cli_main
from puente.events.bus import InMemoryBus
from puente.portal.live import live_events
from puente.shutdown import StopNotice, notify_on_stop_signals


@pytest.fixture
def sigterm_recorded() -> Iterator[list[int]]:
    """SIGTERM handled by a recorder, as uvicorn's handler would (restored afterwards)."""
    seen: list[int] = []

    def server_handler(sig: int, frame: FrameType | None) -> None:
        seen.append(sig)

    original = signal.signal(signal.SIGTERM, server_handler)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGTERM, original)


@pytest.mark.anyio
async def test_sigterm_sets_the_notice_and_still_reaches_the_servers_handler(
    sigterm_recorded: list[int],
) -> None:
    notice = StopNotice()
    before = signal.getsignal(signal.SIGTERM)
    with notify_on_stop_signals(notice):
        signal.raise_signal(signal.SIGTERM)
        await asyncio.wait_for(notice.wait(), 2)
    assert notice.stopping
    assert sigterm_recorded == [signal.SIGTERM]  # the server's graceful shutdown still starts
    assert signal.getsignal(signal.SIGTERM) is before  # and its handler is back


@pytest.mark.anyio
async def test_a_signal_nobody_handles_is_left_to_its_default() -> None:
    original = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with notify_on_stop_signals(StopNotice()):
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, original)


@pytest.mark.anyio
async def test_a_live_stream_ends_as_soon_as_the_process_is_stopping() -> None:
    notice = StopNotice()

    async def render() -> list[tuple[str, str]]:
        return [("estado", "<p>pagado</p>")]

    stream = live_events(InMemoryBus(), "loan:1", render, heartbeat=60, stopping=notice)
    assert (await anext(stream)).startswith("event: estado")
    asyncio.get_running_loop().call_later(0.1, notice.set)
    started = time.monotonic()
    rest = [event async for event in stream]  # max_age is five minutes
    assert rest == [] and time.monotonic() - started < 2


def test_serve_gives_open_requests_a_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    asked: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: asked.update(kwargs))
    key = base64.urlsafe_b64encode(b"k" * 32).decode()
    monkeypatch.setenv("PUENTE_SECRET_KEY", "s" * 48)
    monkeypatch.setenv("PUENTE_ENCRYPTION_KEYS", f"k1:{key}")
    monkeypatch.setenv("PUENTE_SHUTDOWN_GRACE_SECONDS", "7")
    assert cli_main(["serve"]) == 0
    assert asked["timeout_graceful_shutdown"] == 7
    monkeypatch.delenv("PUENTE_SHUTDOWN_GRACE_SECONDS")
    assert cli_main(["serve"]) == 0
    assert asked["timeout_graceful_shutdown"] == 5  # the default


@pytest.mark.anyio
async def test_background_work_finishes_or_is_cut_before_the_app_shuts_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # After a webhook storm, dozens of AML monitoring tasks were still running when the
    # database closed: each failed with a logged traceback, and the pool's close waited for
    # their connections. Now the lifespan gives them a deadline, then cancels the rest.
    from tests.conftest import make_settings

    from puente import app as app_module
    from puente.compliance import monitoring_service
    from puente.notifications.service import spawn
    from puente.runtime import Runtime

    finished: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0.2)
        finished.append("notice")

    async def stuck_monitoring(runtime: Runtime, payment_id: int) -> None:
        await asyncio.sleep(60)
        finished.append("monitoring")

    monkeypatch.setattr(app_module, "BACKGROUND_DRAIN_SECONDS", 0.5)
    monkeypatch.setattr(monitoring_service, "monitor_payment", stuck_monitoring)
    runtime = Runtime.from_settings(make_settings())
    app = app_module.create_app(runtime, manage_database=False, run_workers=False)
    async with app.router.lifespan_context(app):
        before = asyncio.all_tasks()
        spawn(quick())
        monitoring_service.schedule_payment_monitoring(runtime, 1)
        left = asyncio.all_tasks() - before
        started = time.monotonic()
    took = time.monotonic() - started
    assert finished == ["notice"]  # what finishes in time is let finish
    assert len(left) == 2 and all(task.done() for task in left)  # the rest is cancelled
    assert took < 2
