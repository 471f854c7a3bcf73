"""The ASGI middleware at the very edge: a request id, HTTP metrics and a trace span."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from puente.observability.context import REQUEST_ID_HEADER, bound_request_id, new_request_id
from puente.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS, monotonic
from puente.observability.tracing import span

__all__ = ["ObservabilityMiddleware", "route_template"]

_HEADER = REQUEST_ID_HEADER.encode()


def route_template(scope: Scope, root_path: str = "") -> str:
    """The matched route's path template (``/pagos/{payment_id}``), never the raw path.

    Raw paths carry ids and would give every loan its own time series.
    """
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "unmatched"
    mounted = str(scope.get("root_path", ""))[len(root_path) :]
    return (mounted + path) or "/"


class ObservabilityMiddleware:
    """Binds a request id (the caller's ``X-Request-Id`` when well formed), echoes it in the
    response, counts and times the request by route template, and wraps it in a span."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        offered = None
        for name, value in scope.get("headers", ()):
            if name == _HEADER:
                offered = value.decode("latin-1")
                break
        root_path = str(scope.get("root_path", ""))
        method = scope.get("method", "WS")
        status = 500
        started = monotonic()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with bound_request_id(new_request_id(offered)) as request_id:
            with span(f"{method} request", **{"http.request.method": method}) as current:
                try:
                    await self.app(scope, receive, send_with_id)
                finally:
                    route = route_template(scope, root_path)
                    current.update_name(f"{method} {route}")
                    current.set_attribute("http.route", route)
                    if scope["type"] == "http":
                        current.set_attribute("http.response.status_code", status)
                        HTTP_REQUESTS.labels(route, method, str(status)).inc()
                        HTTP_LATENCY.labels(route, method).observe(monotonic() - started)
