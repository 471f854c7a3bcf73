"""A real SMTP server (the demo's mail catcher) for the notification tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from puente.runtime import Runtime
from puente_sandbox.mail_catcher import MailCatcher


@pytest.fixture
def catcher() -> Iterator[MailCatcher]:
    server = MailCatcher().start()
    yield server
    server.stop()


@pytest.fixture
def mail_runtime(runtime: Runtime, catcher: MailCatcher) -> Runtime:
    """The test runtime with email pointed at the catcher (no TLS, no login: as the demo)."""
    runtime.settings = runtime.settings.with_overrides(
        smtp_host=catcher.host, smtp_port=catcher.port, smtp_starttls=False
    )
    return runtime
