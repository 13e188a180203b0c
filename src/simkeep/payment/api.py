from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from simkeep.core import clock
from simkeep.core.errors import NotFound
from simkeep.payment import service
from simkeep.payment.providers import ProviderDisabled, provider_named
from simkeep.web.deps import Config, Db
from simkeep.web.openapi import ErrorOut

router = APIRouter(tags=["payments"])


@router.post("/webhooks/{provider}", responses={
    400: {"model": ErrorOut, "description": "`webhook_rejected`: unknown provider, bad signature or stale; nothing stored"},
    404: {"model": ErrorOut, "description": "`not_found`: no such provider here (the sandbox's webhook exists only "
                                            "while it is on)"},
    413: {"model": ErrorOut, "description": "`body_too_large`: nothing was read further"},
    422: {"model": ErrorOut, "description": "`validation_error`: a malformed provider name"}})
async def receive_webhook(provider: Annotated[str, Path(max_length=32, pattern=r"^[a-z0-9_-]+$")],
                          request: Request, db: Db, settings: Config) -> dict:
    """Verify the signature on the raw body, store the event once; the worker applies it."""
    raw = await request.body()
    try:
        adapter = provider_named(provider, db, settings)
    except ProviderDisabled as exc:
        raise NotFound("No such webhook.") from exc
    # Verification may call the provider (PayPal): keep the event loop free.
    event = await run_in_threadpool(adapter.parse_webhook, raw, {k.lower(): v for k, v in request.headers.items()})
    # The insert is a blocking database write: it runs in the threadpool too, never on the event loop.
    stored = await run_in_threadpool(db.write, lambda session: service.store_event(
        session, provider=provider, event=event, now=clock.now()))
    return {"received": True, "duplicate": not stored}
