"""Who hears about a payment's committed transition, without payments importing them.

Packages above payments (notifications, compliance's monitoring) register an observer
once, when they are imported; every door that commits a transition calls
:func:`announce_transition` after the commit. An observer must not block and must not
raise: it schedules its own work (the payment path has already answered).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from puente.payments.compliance_hooks import compliance

if TYPE_CHECKING:
    from puente.payments.lifecycle_service import Transition
    from puente.runtime import Runtime

__all__ = ["TransitionObserver", "announce_transition", "register_transition_observer"]

log = logging.getLogger(__name__)

TransitionObserver = Callable[["Runtime", "Transition"], None]

_OBSERVERS: dict[str, TransitionObserver] = {}


def register_transition_observer(name: str, observer: TransitionObserver) -> None:
    """Install ``observer`` under ``name`` (registering a name again replaces it)."""
    _OBSERVERS[name] = observer


def announce_transition(runtime: Runtime, transition: Transition) -> None:
    """Tell compliance and every registered observer about a committed transition."""
    compliance().after_transition(runtime, transition)  # AML monitoring, in the background
    for name, observe in list(_OBSERVERS.items()):
        try:
            observe(runtime, transition)
        except Exception:  # noqa: BLE001 - an observer never breaks the payment path
            log.exception("transition observer %s failed", name)
