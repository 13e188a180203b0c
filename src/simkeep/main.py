"""The ASGI application: JSON API under /api/v1, OpenAPI at /openapi.json, docs at /docs (vendored Swagger UI)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from simkeep import admin
from simkeep.admin.access import may_send_large
from simkeep.catalog.api import router as catalog_router
from simkeep.charge.api import router as charge_router
from simkeep.config import Settings, check, get_settings
from simkeep.core import logs
from simkeep.db import Database
from simkeep.history.api import router as history_router
from simkeep.line.api import router as line_router
from simkeep.network.api import router as network_router
from simkeep.ops.api import router as ops_router
from simkeep.ops.http import Observed
from simkeep.ops.metrics import DatabaseCollector
from simkeep.payment.api import router as webhook_router
from simkeep.plan.api import router as plan_router
from simkeep.portal.pages import router as portal_router
from simkeep.receipt.pages import router as receipt_router
from simkeep.reseller.api import router as reseller_router
from simkeep.sandbox.pages import router as sandbox_router
from simkeep.store.api import router as store_router
from simkeep.topup.api import quotes as quote_router
from simkeep.topup.api import router as topup_router
from simkeep.voice.api import router as voice_router
from simkeep.voice.menu import Menu
from simkeep.voucher.api import reseller_router as epin_router
from simkeep.voucher.api import router as voucher_router
from simkeep.web import errors, openapi
from simkeep.web.docs import router as docs_router
from simkeep.web.headers import SecurityHeaders
from simkeep.web.inputs import refuse_control_characters
from simkeep.web.lane import DbLane
from simkeep.web.limits import BodyLimit
from simkeep.web.ratelimit import RateLimits
from simkeep.web.sessions import ServerSessions


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    check(settings)  # no app on a missing, weak or published secret
    logs.configure(settings.log_level)
    app = openapi.App(title="simkeep", version="0.1.0",
                      description="Prepaid number-keeping platform: lines, validity, ledger, top-ups and charges.",
                      telemetry={"tracing": False, "metrics": False, "logs": False},  # a per-request env lookup
                      docs_url=None, redoc_url=None,  # /docs is web/docs.py's, from vendored files
                      dependencies=[Depends(refuse_control_characters)])  # pages only; the API has its own types
    app.state.settings = settings
    app.state.db = db or Database(settings.db_url)
    app.state.db_lane = DbLane(app.state.db, settings.db_threads)
    app.state.principals = {}
    app.state.rate_limits = RateLimits(settings)
    app.state.voice_dialogue = Menu(app.state.db, settings)  # the hotline's menu, for IVR platforms over HTTP
    app.state.metrics_collector = DatabaseCollector(
        app.state.db, stale_after=timedelta(seconds=settings.worker_heartbeat_stale_seconds))
    errors.install(app)
    admin.install(app)
    for router in (catalog_router, line_router, history_router, topup_router, quote_router, plan_router, voucher_router, reseller_router, epin_router, network_router,
                   charge_router, webhook_router, voice_router, store_router, portal_router, receipt_router, admin.router, docs_router,
                   ops_router):
        app.include_router(router)
    if settings.sandbox_on:  # a development tool: its pages do not exist unless it is switched on
        app.include_router(sandbox_router)
    app.mount("/static", StaticFiles(packages=[("simkeep.web", "static")]), name="static")

    # Bank statements are the one large upload, and only from a finance or admin session (looked up by the
    # session middleware, which runs first); everything else, anonymous uploads included, keeps the 64 KiB limit.
    # The SIM vendor's and the number files likewise, from an admin session (network.manage).
    inventory_upload = (settings.max_statement_bytes, may_send_large(app.state.db, "network.manage"))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, exceptions={
        "/admin/bank/import": (settings.max_statement_bytes, may_send_large(app.state.db, "bank.import")),
        **dict.fromkeys(admin.network.IMPORT_PATHS, inventory_upload)})
    app.add_middleware(ServerSessions, settings=settings, db=app.state.db)
    app.add_middleware(SecurityHeaders, settings=settings)  # errors and 413s carry the headers too
    app.add_middleware(Observed)  # outermost: every answer gets its request id, access-log line and latency
    return app


def app_factory() -> FastAPI:
    """Entry point for uvicorn --factory."""
    return create_app()
