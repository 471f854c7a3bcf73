"""Regulatory checks: KYC identifier validation (and, from a teammate, AML rules)."""

from __future__ import annotations

__all__: list[str] = []
