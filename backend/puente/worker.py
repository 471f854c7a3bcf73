"""The webhook worker in a process of its own (``puente worker``), and its supervision by serve.

``puente serve`` acknowledges webhooks; applying them (a payment moved, its ledger entry
posted, its audit record chained) is heavier work. In one process both share one CPU and,
on SQLite, one connection, so acknowledgements queue behind applications (issue 15 #4,
``docs/performance.md``). With ``PUENTE_WEBHOOK_WORKER=process`` (the default where Redis
is configured) the servers only store and acknowledge, and one worker process applies:

    puente serve ─┬─ uvicorn process(es): verify, store, 2xx        (inbox writer)
                  └─ puente worker: claim, apply, settle, announce   (WebhookInbox.run)
                        │ niced: the servers' acknowledgements win the CPU
                        └─ its transitions reach subscribers through Redis

The worker finds work by polling the inbox (nothing wakes it across processes); several
workers, or an in-process one beside it, take disjoint batches (``WebhookInbox._claim_due``).
SIGTERM (or SIGINT) lets the batch under way finish, then the background notices and
monitoring it started, and exits; a worker whose parent died stops the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import puente.compliance  # noqa: F401  (registers screening and monitoring with payments)
import puente.notifications  # noqa: F401  (registers payment notices and daily reminders)
import puente.tuition  # noqa: F401  (registers colegiatura pricing with the loan core)
from puente.compliance.monitoring_service import drain_monitoring
from puente.config import Settings
from puente.db import open_database
from puente.notifications.service import drain_deliveries
from puente.payments.gateways import GatewayDirectory
from puente.runtime import Runtime
from puente.webhooks.inbox import WebhookInbox

__all__ = ["POLL_SECONDS", "WORKER_NICENESS", "WorkerProcess", "run_worker"]

logger = logging.getLogger("puente.worker")

# How often an idle worker looks for due events (a server cannot wake it across processes):
# the most a received event waits before its application starts.
POLL_SECONDS = 0.2
# The worker runs at a lower CPU priority than the servers: on a busy machine the scheduler
# hands the acknowledgements the core, and application catches up when they pause.
WORKER_NICENESS = 10
# How long a stopping worker may finish its batch and background work before it is cut.
DRAIN_SECONDS = 20.0


async def run_worker(settings: Settings, *, parent_pid: int | None = None) -> None:
    """Apply received webhooks until SIGTERM/SIGINT (or until ``parent_pid`` has gone)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtime = Runtime.from_settings(settings)
    gateways = GatewayDirectory(runtime)
    inbox = WebhookInbox(runtime, gateways, lease_seconds=settings.webhook_lease_seconds)
    async with open_database(settings.database_url):
        watch = asyncio.create_task(_watch_parent(parent_pid, stop)) if parent_pid else None
        work = asyncio.create_task(inbox.run(stop, idle_seconds=POLL_SECONDS), name="inbox")
        try:
            await stop.wait()
            # The batch under way finishes (run() checks ``stop`` between batches); what it
            # did not reach stays in the inbox for the next worker.
            done, _ = await asyncio.wait([work], timeout=DRAIN_SECONDS)
            if not done:
                logger.warning("webhook worker cut after %.0f s of draining", DRAIN_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(drain_monitoring(), drain_deliveries()), DRAIN_SECONDS
                )
        finally:
            for task in (work, watch):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await gateways.aclose()
            await runtime.bus.close()


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """Stop when the serve that started this worker is gone (killed without a goodbye)."""
    while not stop.is_set():
        if os.getppid() != parent_pid:
            logger.warning("webhook worker: parent %s gone, stopping", parent_pid)
            stop.set()
            return
        await asyncio.sleep(1.0)


class WorkerProcess:
    """The ``puente worker`` child of ``puente serve``: started with it, restarted if it dies,
    stopped (SIGTERM, then waited for) when serve stops."""

    def __init__(self, niceness: int = WORKER_NICENESS, restart_seconds: float = 1.0) -> None:
        self.niceness = niceness
        self.restart_seconds = restart_seconds
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "puente.cli", "worker", "--parent", str(os.getpid())]

    def _spawn(self) -> None:
        niceness = self.niceness
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self._command(),
            preexec_fn=(lambda: os.nice(niceness)) if niceness else None,  # noqa: PLW1509
        )

    def start(self) -> None:
        with self._lock:
            self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="worker-watch", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            if process is None:
                return
            code = process.wait()
            if self._stopping.is_set():
                return
            logger.error("webhook worker exited (%s); restarting", code)
            time.sleep(self.restart_seconds)
            with self._lock:
                if not self._stopping.is_set():
                    self._spawn()

    def stop(self, timeout: float = DRAIN_SECONDS + 10) -> int | None:
        """SIGTERM the worker and wait for it to drain (killed after ``timeout``)."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                logger.error("webhook worker did not stop in %.0f s; killed", timeout)
                process.kill()
                process.wait()
        return process.returncode
