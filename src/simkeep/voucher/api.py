"""POST /api/v1/vouchers/redeem: a recharge card redeemed on a line through the JSON API (partner systems, the store
console's backend). The same service function as every other channel; every PIN failure gets one answer.

Also the reseller's e-PINs and purchases (POST /api/v1/reseller/epins, GET /api/v1/reseller/purchases): they are
vouchers, and the reseller domain sits below this one."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.errors import RateLimited, VoucherLocked
from simkeep.core.phone import masked
from simkeep.reseller.api import FORBIDDEN, iso, money, own
from simkeep.topup.api import as_dict
from simkeep.voucher import pins, service
from simkeep.voucher.models import VoucherPurchase
from simkeep.voucher.schemas import EpinPurchaseOut, EpinsCreate, PurchasesOut, RedeemIn, RedemptionOut
from simkeep.web.deps import AnyRole, Config, IdempotencyKey, Lane, Limits, ResellerKey
from simkeep.web.openapi import errors
from simkeep.web.params import known_query

router = APIRouter(prefix="/api/v1/vouchers", tags=["vouchers"])
# The reseller's e-PINs and purchases, beside its other routes (reseller/api.py) under one prefix.
reseller_router = APIRouter(prefix="/api/v1/reseller", tags=["reseller"])


@router.post("/redeem", status_code=201, response_model=RedemptionOut, responses=errors({
    400: "`idempotency_key_missing`",
    404: "`line_not_found`: no line with this number",
    409: "`line_not_renewable`, `validity_cap_reached`, or `idempotency_key_reused` (the same Idempotency-Key with "
         "another number or PIN)",
    422: "`voucher_invalid`: the PIN cannot be used, whatever the reason (unknown, already used, blocked, expired, "
         "not sold yet, another operator's, a wrong check digit): one answer, byte for byte; "
         "or `invalid_input`: a malformed Idempotency-Key",
    429: "`rate_limited`: this API key tried too many PINs (SIMKEEP_VOUCHER_REDEMPTIONS_PER_KEY); or "
         "`voucher_locked`: this number failed too many PINs (SIMKEEP_VOUCHER_FAILURES_PER_NUMBER in "
         "SIMKEEP_VOUCHER_FAILURE_HOURS, 5 in 24 hours by default); `locked_until` says when it may try again",
    503: "`vouchers_not_configured`: SIMKEEP_VOUCHER_PEPPER and SIMKEEP_VOUCHER_SEAL_KEY are not set"}, body=True))
async def redeem(body: RedeemIn, key: IdempotencyKey, db: Lane, cfg: Config, limits: Limits,
                 who: AnyRole) -> Response:
    """Recharge a line with a card: its offer's validity and the face value as credit, exactly once (200 racing
    requests with one PIN credit once). A replay with the same Idempotency-Key and body answers the first top-up
    again with `Idempotent-Replayed: true`. Every failed PIN counts towards the number's lockout."""
    keys = pins.keys(cfg)  # 503 before anything is counted
    if wait := limits.voucher_key_wait(who.id):  # before any lookup
        raise RateLimited(f"Too many recharge card PINs from this API key; try again in {wait} seconds.",
                          retry_after=wait)
    now = clock.now()
    try:
        redemption = await db.write(lambda session: service.redeem(
            session, msisdn=body.msisdn, pin=body.pin, via="api", principal=who.id, idempotency_key=key,
            client=who.id, keys=keys, now=now, region=cfg.default_region,
            failures_allowed=cfg.voucher_failures_per_number, failure_hours=cfg.voucher_failure_hours))
    except VoucherLocked as locked:
        raise locked_error(locked, cfg) from None
    result = redemption.outcome()  # after the commit: a failure is recorded, then answered as voucher_invalid
    shown = {**as_dict(result.topup), "voucher_serial": redemption.serial}
    if who.role == "reseller":  # a reseller sees no more of a subscriber than a masked number
        shown["msisdn"] = masked(shown["msisdn"])
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return Response(orjson.dumps(shown), status_code=201, media_type="application/json", headers=headers)


def locked_error(locked: VoucherLocked, cfg: Settings) -> VoucherLocked:
    """The lockout's answer: when the number may try again, and where to get help."""
    until = locked.details["locked_until"]
    help_line = (f"call customer service on {cfg.hotline}" if cfg.hotline
                 else "ask the seller of the card or customer service")
    return VoucherLocked(f"Too many wrong recharge card PINs for this number: it may try again from {until} "
                         f"(UTC). If a card does not work, {help_line}.", **locked.details)


@reseller_router.post("/epins", status_code=201, response_model=EpinPurchaseOut, responses=errors({
    **FORBIDDEN,
    400: "`idempotency_key_missing`",
    402: "`insufficient_float`: the float cannot pay for them; nothing was bought",
    409: "`idempotency_key_reused` (the same Idempotency-Key with another offer or quantity)",
    422: "`invalid_input`: an unknown offer, or one sold in another currency than the float's; a malformed "
         "Idempotency-Key",
    503: "`vouchers_not_configured`"}, body=True))
async def buy_epins(body: EpinsCreate, key: IdempotencyKey, db: Lane, cfg: Config, who: ResellerKey) -> Response:
    """Buy `quantity` e-PINs of one offer, paid from the float at the reseller's discount. The PINs are in this
    answer and nowhere else: a replay (same Idempotency-Key and body) answers the same PINs again with
    `Idempotent-Replayed: true` and buys nothing more."""
    keys = pins.keys(cfg)
    now = clock.now()

    def buy(session: Session) -> dict:
        bought = service.buy_epins(session, reseller=own(session, who.reseller_id), principal=who.id,
                                    idempotency_key=key, offer_id=body.offer_id, quantity=body.quantity, keys=keys,
                                    now=now)
        p = bought.purchase
        return {"purchase_id": str(p.id), "offer_id": p.offer_id, "quantity": p.quantity,
                "serial_from": p.serial_from, "serial_to": p.serial_to,
                "face_value": money(p.face_value_minor // p.quantity, p.currency),
                "total_face_value": money(p.face_value_minor, p.currency), "paid": money(p.paid_minor, p.currency),
                "commission": money(p.commission_minor, p.currency), "expires_at": iso(bought.expires_at),
                "created_at": iso(p.created_at), "pins": [{"serial": s, "pin": pin} for s, pin in bought.cards],
                "replayed": bought.replayed}

    shown = await db.write(buy)
    headers = {"Idempotent-Replayed": "true"} if shown.pop("replayed") else None
    return Response(orjson.dumps(shown), status_code=201, media_type="application/json", headers=headers)


@reseller_router.get("/purchases", response_model=PurchasesOut, responses=errors(FORBIDDEN),
                     dependencies=[Depends(known_query("limit"))])
async def list_purchases(db: Lane, who: ResellerKey, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict:
    """The reseller's purchases, newest first (never their PINs)."""
    def read(session: Session) -> dict:
        reseller = own(session, who.reseller_id)
        return {"items": [purchase_dict(p) for p in service.purchases_of(session, reseller.id, limit=limit)]}

    return await db.read(read)


def purchase_dict(p: VoucherPurchase) -> dict:
    return {"id": str(p.id), "kind": p.kind, "offer_id": p.offer_id, "quantity": p.quantity,
            "serial_from": p.serial_from, "serial_to": p.serial_to,
            "face_value": money(p.face_value_minor, p.currency), "paid": money(p.paid_minor, p.currency),
            "commission": money(p.commission_minor, p.currency), "created_at": iso(p.created_at)}
