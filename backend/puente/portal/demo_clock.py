"""``/sandbox/reloj`` (``puente demo`` only): run the day's jobs as of a chosen date.

The demo's way to move time forward without waiting for it: pick a date (a due date, the
next quincena payday) and the page runs what ``puente jobs daily --date`` runs for that day,
in this process, against the built-in sandboxes (billing, advances, moratorium, then the
scheduled domiciliación charges under their lease). Nothing here exists in ``puente serve``.
"""

from __future__ import annotations

from datetime import date
from typing import cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from puente.collections.jobs import run_collections_once
from puente.collections.models import AttemptStatus, ChargeAttempt, Mandate, MandateStatus
from puente.loans.jobs import run_daily_once
from puente.loans.models import Installment
from puente.portal.routes import Portal
from puente.runtime import Runtime

__all__ = ["demo_clock_routes"]


async def _upcoming(today: date) -> list[tuple[date, str]]:
    """Dates worth jumping to: mandated loans' next due dates ("due") and retries ("retry")."""
    loans = await Mandate.filter(status=MandateStatus.ACTIVE).values_list("loan_id", flat=True)
    dues = (
        await Installment.filter(
            loan_id__in=list(loans), superseded_on__isnull=True, due_date__gte=today
        )
        .order_by("due_date")
        .limit(3)
        .values_list("due_date", flat=True)
    )
    retries = (
        await ChargeAttempt.filter(status=AttemptStatus.SCHEDULED)
        .order_by("scheduled_for")
        .limit(5)
        .values_list("scheduled_for", flat=True)
    )
    found = {(cast(date, day), "due") for day in dues}
    found |= {(cast(date, day), "retry") for day in retries}
    return sorted(found)


def demo_clock_routes(runtime: Runtime) -> list[BaseRoute]:
    """The demo clock page; ``build_demo_app`` mounts it before the simulators."""
    portal = Portal(runtime)

    async def page(
        request: Request, outcome: list[str] | None = None, status: int = 200
    ) -> Response:
        await portal.current_session(request)  # the CSRF token is bound to the session
        context = {
            "user": None,
            "today": runtime.today(),
            "upcoming": await _upcoming(runtime.today()),
            "outcome": outcome or [],
        }
        return portal.render(request, "pages/demo_reloj.html", context, status_code=status)

    async def show(request: Request) -> Response:
        return await page(request)

    async def run(request: Request) -> Response:
        form = await portal.form(request)
        if form is None:
            return portal.forbidden(request)
        try:
            day = date.fromisoformat(str(form.get("fecha") or ""))
        except ValueError:
            return await page(request, ["La fecha debe ser AAAA-MM-DD."], status=400)
        daily = await run_daily_once(day, clock=runtime.now)
        charges = await run_collections_once(
            runtime, request.app.state.gateways, day, clock=runtime.now
        )
        outcome = [
            f"Trabajos del {day.isoformat()}:",
            (
                f"Cartera: {daily.loans} créditos, {daily.billed} pagos exigibles, "
                f"{daily.charges_posted} cargos moratorios."
                if daily
                else "El trabajo diario ya corre en otro proceso."
            ),
            charges.resumen() if charges else "La domiciliación ya corre en otro proceso.",
        ]
        return await page(request, outcome)

    return [
        Route("/sandbox/reloj", show, methods=["GET"]),
        Route("/sandbox/reloj", run, methods=["POST"]),
    ]
