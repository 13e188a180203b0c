"""Every HTTP request: a request id, one access-log line, and its latency in the metrics.

The id is the caller's `X-Request-Id` when it is a plausible id (letters, digits and `._:-`, 8 to 64 characters:
a load balancer's or a client's trace id), otherwise a new one; it is sent back in the response's `X-Request-Id`
and bound for every log line of the request, and the rows the request writes for the worker keep it
(core/logs.py). The access log and the latency histogram name the route's template (`/api/v1/lines/{msisdn}`),
never the path as typed: a path holds phone numbers, receipt tokens and codes, and a label per number would also
make the metrics grow without end. The query string is never logged."""

from __future__ import annotations

import re
import time

import structlog
from prometheus_client import Histogram
from starlette.routing import Match

from simkeep.core.ids import new_id
from simkeep.core.logs import REQUEST_ID

log = structlog.get_logger()

HEADER = b"x-request-id"
WELL_FORMED = re.compile(rb"[A-Za-z0-9._:-]{8,64}")
UNMATCHED = "unmatched"  # a path no route serves (a 404): one label for all of them

REQUEST_SECONDS = Histogram("simkeep_http_request_duration_seconds",
                            "HTTP request latency by route template, method and status class.",
                            ["route", "method", "status"],
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == HEADER and WELL_FORMED.fullmatch(value):
            return value.decode("ascii")
    return new_id().hex


def route_template(scope) -> str:
    """The template of the route that served the request: FastAPI puts the route in the scope as it routes;
    a mount (the static files) is named by its prefix."""
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return route.path
    app = scope.get("app")
    router = getattr(app, "router", None)
    for candidate in getattr(router, "routes", ()):
        match, _ = candidate.matches(scope)
        if match == Match.FULL:
            return getattr(candidate, "path", UNMATCHED) or UNMATCHED
    return UNMATCHED


class Observed:
    """Outermost middleware (inside Starlette's error handler, so an exception is seen here as a 500)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = request_id_of(scope["headers"])
        header = (HEADER, request_id.encode("ascii"))
        status = 500  # unless the application answers

        async def send_with_id(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(**{REQUEST_ID: request_id}):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route = route_template(scope)
                REQUEST_SECONDS.labels(route, scope["method"], f"{status // 100}xx").observe(elapsed)
                log.info("http.request", method=scope["method"], route=route, status=status,
                         duration_ms=round(elapsed * 1000, 1))
