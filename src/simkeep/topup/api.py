from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Response

from simkeep.core import clock
from simkeep.promotion.models import Quote
from simkeep.topup import service
from simkeep.topup.models import TopUp
from simkeep.topup.schemas import QuoteCreate, QuoteOut, TopUpCreate, TopUpOut
from simkeep.web.deps import Config, IdempotencyKey, Lane, Partner
from simkeep.web.openapi import errors

router = APIRouter(prefix="/api/v1/topups", tags=["top-ups"])
quotes = APIRouter(prefix="/api/v1/quotes", tags=["top-ups"])


@router.post("", status_code=201, response_model=TopUpOut, responses=errors({
    400: "`idempotency_key_missing`",
    404: "`line_not_found` or `offer_not_found`",
    409: "`line_not_renewable`, `validity_cap_reached`, `idempotency_key_reused` (the same Idempotency-Key with a "
         "different body), `quote_expired`, `quote_used`, `quote_mismatch` (a quote for another number, offer or "
         "channel) or `promotion_unavailable` (its campaign ran out: quote again)",
    422: "`invalid_input`: a malformed Idempotency-Key"}, body=True))
async def create_topup(body: TopUpCreate, key: IdempotencyKey, db: Lane, cfg: Config, who: Partner) -> Response:
    result = await db.write(lambda session: service.top_up(
        session, principal=who.id, idempotency_key=key, msisdn=body.msisdn, offer_id=body.offer_id,
        channel=body.channel, now=clock.now(), region=cfg.default_region, quote_id=body.quote_id))
    # Serialised directly: the hottest endpoint skips re-validating what it just built (the schema still
    # documents it in OpenAPI).
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return Response(orjson.dumps(as_dict(result.topup)), status_code=201, media_type="application/json",
                    headers=headers)


@quotes.post("", status_code=201, response_model=QuoteOut, responses=errors({
    404: "`line_not_found`, `offer_not_found`",
    409: "`line_not_renewable`, `validity_cap_reached`",
    422: "`promo_code_invalid` (unknown, expired or not for this renewal), `invalid_input`"}, body=True))
async def create_quote(body: QuoteCreate, db: Lane, cfg: Config, _who: Partner) -> dict:
    """The price of a renewal now, with every campaign applied and why; pay it with `quote_id` on
    `POST /api/v1/topups` before `expires_at`."""
    return await db.write(lambda session: quote_dict(service.quote(
        session, msisdn=body.msisdn, offer_id=body.offer_id, channel=body.channel, now=clock.now(),
        region=cfg.default_region, code=body.code, partner_code=body.partner, minutes=cfg.quote_minutes)))


@router.get("/{topup_id}", response_model=TopUpOut, responses=errors({404: "`topup_not_found`"}))
async def get_topup(topup_id: Annotated[str, Path(description="the top-up's id (a UUID); anything else is 404")], db: Lane, _who: Partner) -> dict:
    return await db.read(lambda session: as_dict(service.get_topup(session, topup_id)))


def as_dict(t: TopUp) -> dict:
    return {"id": str(t.id), "status": t.status, "msisdn": t.msisdn, "offer_id": t.offer_id, "channel": t.channel,
            "amount": {"amount_minor": t.price_minor, "currency": t.currency},
            "bonus": {"amount_minor": t.bonus_minor, "currency": t.currency},
            "validity_ends_at": t.validity_ends_at.isoformat().replace("+00:00", "Z"),
            "created_at": t.created_at.isoformat().replace("+00:00", "Z"),
            "quote_id": str(t.quote_id) if t.quote_id else None}


def quote_dict(q: Quote) -> dict:
    def money(minor: int) -> dict:
        return {"amount_minor": minor, "currency": q.currency}
    return {"id": str(q.id), "msisdn": q.msisdn, "offer_id": q.offer_id, "channel": q.channel,
            "list_price": money(q.list_minor), "discount": money(q.discount_minor), "price": money(q.price_minor),
            "bonus": money(q.bonus_minor), "bonus_days": q.bonus_days, "cashback": money(q.cashback_minor),
            "applied": [{"promotion_id": a["promotion_id"], "name": a["name"], "benefit": a["benefit"],
                         "discount": money(a["discount_minor"]), "bonus": money(a["bonus_minor"]),
                         "bonus_days": a["bonus_days"], "cashback": money(a["cashback_minor"])} for a in q.applied],
            "validity_ends_at": q.validity_ends_at, "expires_at": q.expires_at}

