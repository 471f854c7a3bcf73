"""The Starlette application factory: one lifespan, every door mounted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from puente.db import database_answers, open_database
from puente.graphql.schema import build_schema
from puente.graphql.view import PuenteGraphQL
from puente.portal.routes import portal_routes
from puente.portal.security import SecurityHeadersMiddleware
from puente.providers.metrics import render_prometheus
from puente.runtime import Runtime

__all__ = ["FRONTEND_DIR", "create_app"]

FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    if await database_answers():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "database unavailable"}, status_code=503)


async def metrics(request: Request) -> Response:
    lines = render_prometheus()
    return PlainTextResponse(
        "\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8"
    )


def create_app(
    runtime: Runtime,
    *,
    extra_routes: list[BaseRoute] | None = None,
    manage_database: bool = True,
) -> Starlette:
    """Build the app. ``manage_database=False`` when the caller already opened Tortoise."""
    settings = runtime.settings
    schema = build_schema(debug=settings.debug)
    graphql = PuenteGraphQL(
        schema,
        runtime,
        graphql_ide="graphiql" if settings.debug or settings.sandbox else None,
        keep_alive=True,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_database:
            async with open_database(settings.database_url):
                yield
        else:
            yield

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Mount("/static", StaticFiles(directory=FRONTEND_DIR / "static"), name="static"),
        *(extra_routes or []),
        *portal_routes(runtime),
    ]
    app = Starlette(
        debug=settings.debug,
        routes=routes,
        middleware=[Middleware(SecurityHeadersMiddleware)],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app


def app_from_environment() -> Starlette:
    """Factory for ``puente serve`` (uvicorn imports it in each worker)."""
    from puente.config import load_settings

    return create_app(Runtime.from_settings(load_settings()))
