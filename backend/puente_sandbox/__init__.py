"""Provider simulators for demos and tests: real paths, shapes, errors and signed webhooks.

``create_sandbox_app`` (``app.py``) mounts every simulator; each provider module exposes
``create_<provider>_sandbox(credentials, webhook_url, transport=None, clock=None, **options)``.
Nothing here is imported by production code paths.
"""

from __future__ import annotations

__all__: list[str] = []
