"""Who hears about a payment's committed transition, without payments importing them.

Packages above payments (notifications, compliance's monitoring) register an observer
once, when they are imported; every door that commits a transition calls
:func:`announce_transition` after the commit. An observer must not block and must not
raise: it schedules its own work (the payment path has already answered).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

from puente.payments.compliance_hooks import compliance

if TYPE_CHECKING:
    from puente.payments.lifecycle_service import Transition
    from puente.runtime import Runtime

__all__ = [
    "TransitionObserver",
    "announce_transition",
    "announce_transitions",
    "holding_announcements",
    "register_transition_observer",
]

log = logging.getLogger(__name__)

TransitionObserver = Callable[["Runtime", "Transition"], None]

_OBSERVERS: dict[str, TransitionObserver] = {}
_HELD: ContextVar[list[tuple[Runtime, Transition]] | None] = ContextVar(
    "held_transitions", default=None
)


def register_transition_observer(name: str, observer: TransitionObserver) -> None:
    """Install ``observer`` under ``name`` (registering a name again replaces it)."""
    _OBSERVERS[name] = observer


def announce_transition(runtime: Runtime, transition: Transition) -> None:
    """Tell compliance and every registered observer about a committed transition (or,
    inside ``holding_announcements``, keep it for the holder to announce)."""
    held = _HELD.get()
    if held is not None:
        held.append((runtime, transition))
        return
    _announce(runtime, transition)


def announce_transitions(held: list[tuple[Runtime, Transition]]) -> None:
    """Announce transitions kept by ``holding_announcements``, one after another: observers
    that batch their background work (AML monitoring) then see them together."""
    for runtime, transition in held:
        _announce(runtime, transition)
    held.clear()


@contextlib.contextmanager
def holding_announcements() -> Iterator[list[tuple[Runtime, Transition]]]:
    """Within this block (and the tasks it starts), committed transitions are kept, not
    announced; the holder calls ``announce_transitions`` when its batch is done (also when
    it failed: they are committed). A caller that batches many payments (the domiciliación
    job) so gets its monitoring and notices read per batch, after the batch's commits."""
    held: list[tuple[Runtime, Transition]] = []
    token = _HELD.set(held)
    try:
        yield held
    finally:
        _HELD.reset(token)


def _announce(runtime: Runtime, transition: Transition) -> None:
    compliance().after_transition(runtime, transition)  # AML monitoring, in the background
    for name, observe in list(_OBSERVERS.items()):
        try:
            observe(runtime, transition)
        except Exception:  # noqa: BLE001 - an observer never breaks the payment path
            log.exception("transition observer %s failed", name)
