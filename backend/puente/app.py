"""The Starlette application factory: one lifespan, every door mounted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

import puente.compliance  # noqa: F401  (registers screening and monitoring with payments)
import puente.notifications  # noqa: F401  (registers payment notices and daily reminders)
import puente.tuition  # noqa: F401  (registers colegiatura pricing with the loan core)
from puente.book_metrics import read_snapshot
from puente.collections.jobs import collect_forever
from puente.compliance.monitoring_service import drain_monitoring
from puente.db import database_answers, open_database
from puente.graphql.schema import build_schema
from puente.graphql.view import PuenteGraphQL
from puente.invoicing.worker import FiscalWorker
from puente.notifications.service import deliver_due, drain_deliveries
from puente.notifications.status_callbacks import twilio_status_routes
from puente.observability.metrics import CONTENT_TYPE_LATEST, render_metrics
from puente.observability.middleware import ObservabilityMiddleware
from puente.payments.gateways import GatewayDirectory
from puente.payments.polling import poll_pending_payments
from puente.portal.errors import portal_error_handlers
from puente.portal.routes import portal_routes, portal_templates
from puente.portal.security import SecurityHeadersMiddleware
from puente.portal.templates import FRONTEND_DIR
from puente.providers.metrics import DEFAULT_METRICS
from puente.runtime import Runtime
from puente.security.metrics_access import MetricsAccess, metrics_access
from puente.shutdown import notify_on_stop_signals
from puente.webhooks.inbox import WebhookInbox
from puente.webhooks.routes import webhook_routes

__all__ = ["FRONTEND_DIR", "create_app"]

logger = logging.getLogger("puente")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the database answers and, where one is configured, the event bus too."""
    runtime: Runtime = request.app.state.runtime
    problems = []
    if not await database_answers():
        problems.append("database unavailable")
    if not await runtime.bus.healthy():
        problems.append("event bus unavailable")
    if problems:
        return JSONResponse({"status": "; ".join(problems)}, status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    decision = metrics_access(
        token=settings.metrics_token,
        demo=settings.sandbox,
        authorization=request.headers.get("authorization"),
        client_host=request.client.host if request.client else None,
    )
    if decision == MetricsAccess.UNAUTHORISED:
        return PlainTextResponse(
            "unauthorised\n", status_code=401, headers={"www-authenticate": "Bearer"}
        )
    if decision == MetricsAccess.CLOSED:
        return PlainTextResponse(
            "metrics are closed: set PUENTE_METRICS_TOKEN and scrape with it\n", status_code=403
        )
    collectors: list[Collector] = [DEFAULT_METRICS]
    try:
        collectors.append(await read_snapshot(runtime.now()))
    except Exception:  # noqa: BLE001 - a scrape while the database is down still answers
        logger.warning("metrics: database figures unavailable", exc_info=True)
    return Response(render_metrics(collectors), media_type=CONTENT_TYPE_LATEST)


async def _poll_forever(
    runtime: Runtime, gateways: GatewayDirectory, stop: asyncio.Event, every: float = 60.0
) -> None:
    """Background polling fallback for payments whose webhook never came."""
    while not stop.is_set():
        try:
            await poll_pending_payments(runtime, gateways)
        except Exception:  # noqa: BLE001 - keep polling after a bad moment
            logger.exception("payment polling pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


async def _deliver_forever(runtime: Runtime, stop: asyncio.Event, every: float = 5.0) -> None:
    """The notifications outbox: new notices, retries, and ones another process left."""
    while not stop.is_set():
        try:
            await deliver_due(runtime.settings, runtime.now())
        except Exception:  # noqa: BLE001 - keep delivering after a bad moment
            logger.exception("notification delivery pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


# At shutdown, how long the work a committed payment left running in the background (AML
# monitoring, notice deliveries) may take to finish before the database closes under it.
BACKGROUND_DRAIN_SECONDS = 3.0


@asynccontextmanager
async def background_work_drained(seconds: float | None = None) -> AsyncIterator[None]:
    """On the way out (before the database closes): let background work finish for up to
    ``seconds``, then cancel what is left.

    Closing the pool under it made every pending task fail with "pool is closing" and a
    logged traceback (dozens after a webhook storm), and the pool's graceful close waits for
    the connections those tasks still held. A notice cut here stays in the outbox and is
    sent by the next pass of any process; monitoring cut here is logged as cut.
    """
    seconds = BACKGROUND_DRAIN_SECONDS if seconds is None else seconds
    try:
        yield
    finally:
        for drain, what in ((drain_monitoring, "AML monitoring"), (drain_deliveries, "notices")):
            try:
                # wait_for cancels the drain's gather on time-out, and gather its tasks.
                await asyncio.wait_for(drain(), seconds)
            except TimeoutError:
                logger.warning("shutdown: %s still running after %.1f s, cancelled", what, seconds)


def create_app(
    runtime: Runtime,
    *,
    extra_routes: list[BaseRoute] | None = None,
    manage_database: bool = True,
    gateways: GatewayDirectory | None = None,
    run_workers: bool = True,
    inbox_worker: bool = True,
) -> Starlette:
    """Build the app. ``manage_database=False`` when the caller already opened Tortoise;
    ``run_workers=False`` leaves background processing to the caller (tests);
    ``inbox_worker=False`` leaves applying webhooks to a ``puente worker`` process."""
    settings = runtime.settings
    schema = build_schema(debug=settings.debug, introspection=settings.introspection_enabled)
    gateways = gateways or GatewayDirectory(runtime)
    graphql = PuenteGraphQL(
        schema,
        runtime,
        gateways,
        graphql_ide="graphiql" if settings.introspection_enabled else None,
        keep_alive=True,
        # The contract's one protocol; the legacy Apollo "graphql-ws" is refused (4406).
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )

    inbox = WebhookInbox(runtime, gateways, lease_seconds=settings.webhook_lease_seconds)
    # CFDI and CEP after payments land, never on their path (gateways: to ask about a SPEI)
    fiscal = FiscalWorker(runtime, gateways=gateways)

    @asynccontextmanager
    async def workers() -> AsyncIterator[None]:
        if not run_workers:
            yield
            return
        stop = asyncio.Event()
        tasks = [
            *([asyncio.create_task(inbox.run(stop), name="webhook-inbox")] if inbox_worker else []),
            asyncio.create_task(_poll_forever(runtime, gateways, stop), name="payment-poller"),
            asyncio.create_task(collect_forever(runtime, gateways, stop), name="domiciliacion"),
            asyncio.create_task(_deliver_forever(runtime, stop), name="notification-outbox"),
            asyncio.create_task(fiscal.run(stop), name="fiscal-worker"),
        ]
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        with notify_on_stop_signals(runtime.stopping):  # live streams end on SIGTERM
            # Exits in reverse: workers stop, background work drains, then the database closes.
            if manage_database:
                async with open_database(settings.database_url), background_work_drained():
                    async with workers():
                        yield
            else:
                async with background_work_drained(), workers():
                    yield
        await gateways.aclose()
        await runtime.bus.close()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        *twilio_status_routes(runtime),
        *webhook_routes(inbox),
        Mount("/static", StaticFiles(directory=FRONTEND_DIR / "static"), name="static"),
        *(extra_routes or []),
        *portal_routes(runtime, gateways),
    ]
    app = Starlette(
        debug=settings.debug,
        routes=routes,
        middleware=[Middleware(ObservabilityMiddleware), Middleware(SecurityHeadersMiddleware)],
        lifespan=lifespan,
        exception_handlers=portal_error_handlers(portal_templates()),
    )
    app.state.runtime = runtime
    app.state.gateways = gateways
    app.state.inbox = inbox
    app.state.fiscal = fiscal
    return app


def app_from_environment() -> Starlette:
    """Factory for ``puente serve`` (uvicorn imports it in each worker)."""
    from puente.config import load_settings
    from puente.observability.logs import configure_logging
    from puente.observability.tracing import configure_tracing

    settings = load_settings()
    # Each uvicorn worker process calls this factory, so each configures its own logging.
    configure_logging(fmt=settings.log_format or "json", level=settings.log_level)
    configure_tracing(settings.otlp_endpoint)
    # "process": `puente serve` started a `puente worker` that applies what this stores.
    return create_app(
        Runtime.from_settings(settings), inbox_worker=settings.webhook_worker == "inline"
    )
