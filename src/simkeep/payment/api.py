from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from simkeep.core import clock
from simkeep.core.errors import NotFound
from simkeep.payment import service
from simkeep.payment.providers import ProviderDisabled, provider_named

router = APIRouter(tags=["payments"])


@router.post("/webhooks/{provider}", responses={400: {"description": "webhook_rejected: nothing stored"},
                                                404: {"description": "not_found: no such provider here (the "
                                                      "sandbox's webhook exists only while it is on)"}})
async def receive_webhook(provider: str, request: Request) -> dict:
    """Verify the signature on the raw body, store the event once; the worker applies it."""
    raw = await request.body()
    try:
        adapter = provider_named(provider, request.app.state.db, request.app.state.settings)
    except ProviderDisabled as exc:
        raise NotFound("No such webhook.") from exc
    # Verification may call the provider (PayPal): keep the event loop free.
    event = await run_in_threadpool(adapter.parse_webhook, raw, {k.lower(): v for k, v in request.headers.items()})
    with request.app.state.db.transaction() as session:
        stored = service.store_event(session, provider=provider, event=event, now=clock.now())
    return {"received": True, "duplicate": not stored}
