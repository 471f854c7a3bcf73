"""Where the templates and static files live: the repository's ``frontend/``, beside the
package (the portal's pages and the notification templates both read it)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["FRONTEND_DIR"]

FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"
