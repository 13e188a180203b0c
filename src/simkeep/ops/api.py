"""The machine endpoints: /healthz (the process answers), /readyz (it can serve: database, schema, worker) and
/metrics (Prometheus). None of them takes a session cookie or a CSRF token (web/sessions.py MACHINE_PATHS)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response

from simkeep.core import clock
from simkeep.core.errors import Forbidden
from simkeep.ops import health, metrics
from simkeep.web.deps import Config, Db

router = APIRouter(tags=["ops"])


class MetricsForbidden(Forbidden):
    code, message = "metrics_forbidden", "Metrics are served to this machine, or with the metrics bearer token."


async def collector(request: Request) -> metrics.DatabaseCollector:
    return request.app.state.metrics_collector


@router.get("/healthz")
async def healthz(db: Db) -> dict:
    """Alive: the process answers. No database query: a database outage must not get every web process
    restarted by its supervisor (/readyz says whether it can serve)."""
    return {"status": "ok", "database": db.dialect}


@router.get("/readyz", include_in_schema=False)
def readyz(db: Db, settings: Config) -> JSONResponse:
    """200 when every check passes, else 503 naming the failing ones; each check's detail either way."""
    checks = health.readiness(db, now=clock.now(),
                              stale_after=timedelta(seconds=settings.worker_heartbeat_stale_seconds))
    failing = [c.name for c in checks if not c.ok]
    body = {"status": "failing" if failing else "ok", "failing": failing,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}}
    return JSONResponse(body, status_code=503 if failing else 200)


@router.get("/metrics", include_in_schema=False)
def prometheus(request: Request, settings: Config,
               database: Annotated[metrics.DatabaseCollector, Depends(collector)],
               authorization: Annotated[str | None, Header()] = None,
               accept: Annotated[str, Header()] = "") -> Response:
    if not (metrics.is_local(request.scope.get("client"), request.scope["headers"])
            or metrics.token_matches(authorization, settings.metrics_token)):
        raise MetricsForbidden()
    body, content_type = metrics.exposition(database, accept)
    return Response(body, headers={"Content-Type": content_type})
