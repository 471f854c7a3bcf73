"""Fixtures shared by the reconciliation tests."""

from __future__ import annotations

import pytest

from puente.compliance.monitoring_service import drain_monitoring


@pytest.fixture
async def monitoring_drained(db):
    """AML monitoring of the payments a test recorded finishes before its database closes."""
    yield
    await drain_monitoring()
