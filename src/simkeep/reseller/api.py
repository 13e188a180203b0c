"""The reseller's own API (keys of role `reseller` bound to a reseller): its float, top-ups of customers' lines paid
from it and its statement (e-PINs and purchases are voucher/api.py's, under the same prefix). A reseller sees no
subscriber's data beyond a masked number."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from simkeep.core import clock
from simkeep.core.errors import Forbidden, ResellerNotFound
from simkeep.core.money import Money
from simkeep.core.phone import masked
from simkeep.reseller import export
from simkeep.reseller import service as resellers
from simkeep.reseller.models import Reseller
from simkeep.reseller.schemas import (
    ResellerOut,
    ResellerQuoteCreate,
    ResellerQuoteOut,
    ResellerTopUpCreate,
    ResellerTopUpOut,
    StatementOut,
)
from simkeep.web.deps import Config, IdempotencyKey, Lane, ResellerKey
from simkeep.web.openapi import errors
from simkeep.web.params import Instant, known_query

router = APIRouter(prefix="/api/v1/reseller", tags=["reseller"])
FORBIDDEN = {403: "`forbidden`: only an API key of role `reseller` bound to an enabled reseller may call it"}
Since = Annotated[Instant | None, Query(description="from this instant (RFC 3339 with its offset), included")]
Until = Annotated[Instant | None, Query(description="up to this instant, excluded")]


def own(session: Session, reseller_id) -> Reseller:
    """The key's reseller; a disabled one's keys no longer work."""
    try:
        return resellers.get(session, reseller_id)
    except ResellerNotFound:
        raise Forbidden("This reseller account is disabled.") from None


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def money(minor: int, currency: str) -> dict:
    return {"amount_minor": minor, "currency": currency}


@router.get("", response_model=ResellerOut, responses=errors(FORBIDDEN), dependencies=[Depends(known_query())])
async def get_reseller(db: Lane, who: ResellerKey) -> dict:
    """The reseller this key acts for and its float now."""
    def read(session: Session) -> dict:
        reseller = own(session, who.reseller_id)
        return {"code": reseller.code, "name": reseller.name, "currency": reseller.currency,
                "discount_bp": reseller.discount_bp,
                "float_balance": resellers.float_balance(session, reseller).to_dict()}

    return await db.read(read)


@router.post("/topups", status_code=201, response_model=ResellerTopUpOut, responses=errors({
    **FORBIDDEN,
    400: "`idempotency_key_missing`",
    402: "`insufficient_float`: the float cannot pay for it; nothing moved",
    404: "`line_not_found` or `offer_not_found`",
    409: "`line_not_renewable`, `validity_cap_reached`, `idempotency_key_reused`, `quote_expired`, `quote_used`, "
         "`quote_mismatch` or `promotion_unavailable` (quote again; nothing moved)",
    422: "`invalid_input`: an offer sold in another currency than the float's; a malformed Idempotency-Key"},
    body=True))
async def top_up(body: ResellerTopUpCreate, key: IdempotencyKey, db: Lane, cfg: Config,
                 who: ResellerKey) -> Response:
    """Recharge a customer's line with an offer, paid from the float (channel `reseller`, the discount booked as
    commission). The answer shows the number masked. A replay answers the first top-up again."""
    now = clock.now()

    def top_up(session: Session) -> dict:
        reseller = own(session, who.reseller_id)
        result = resellers.top_up_line(session, reseller=reseller, principal=who.id, idempotency_key=key,
                                       msisdn=body.msisdn, offer_id=body.offer_id, now=now,
                                       region=cfg.default_region, quote_id=body.quote_id)
        t = result.topup
        paid, commission = resellers.costs(session, reseller, t.journal_entry_id)
        return {"id": str(t.id), "status": t.status, "msisdn": masked(t.msisdn), "offer_id": t.offer_id,
                "channel": t.channel, "amount": money(t.price_minor, t.currency), "paid": paid.to_dict(),
                "commission": commission.to_dict(), "created_at": iso(t.created_at), "replayed": result.replayed,
                "quote_id": str(t.quote_id) if t.quote_id else None}

    shown = await db.write(top_up)
    headers = {"Idempotent-Replayed": "true"} if shown.pop("replayed") else None
    return Response(orjson.dumps(shown), status_code=201, media_type="application/json", headers=headers)


@router.post("/quotes", status_code=201, response_model=ResellerQuoteOut, responses=errors({
    **FORBIDDEN,
    404: "`line_not_found` or `offer_not_found`",
    409: "`line_not_renewable` or `validity_cap_reached`"}, body=True))
async def create_quote(body: ResellerQuoteCreate, db: Lane, cfg: Config, who: ResellerKey) -> dict:
    """The price of a renewal through this reseller now (channel `reseller`, the campaigns applied), what the float
    would pay for it and until when it holds; pay it with `quote_id` on `POST /api/v1/reseller/topups`."""
    now = clock.now()

    def make(session: Session) -> dict:
        reseller = own(session, who.reseller_id)
        q, paid, commission = resellers.quote(session, reseller=reseller, msisdn=body.msisdn, offer_id=body.offer_id,
                                              now=now, region=cfg.default_region, minutes=cfg.quote_minutes)
        return {"id": str(q.id), "msisdn": masked(q.msisdn), "offer_id": q.offer_id, "channel": q.channel,
                "list_price": money(q.list_minor, q.currency), "price": money(q.price_minor, q.currency),
                "paid": paid.to_dict(), "commission": commission.to_dict(), "bonus": money(q.bonus_minor, q.currency),
                "bonus_days": q.bonus_days, "promotions": [a["name"] for a in q.applied],
                "validity_ends_at": iso(q.validity_ends_at), "expires_at": iso(q.expires_at)}

    return await db.write(make)


@router.get("/statement", response_model=StatementOut, responses=errors(FORBIDDEN),
            dependencies=[Depends(known_query("since", "until"))])
async def get_statement(db: Lane, who: ResellerKey, since: Since = None, until: Until = None) -> dict:
    """The float's movements, oldest first, each with the commission earned on it and the balance after it.
    The same as CSV: `/api/v1/reseller/statement.csv`."""
    def read(session: Session) -> dict:
        reseller = own(session, who.reseller_id)
        lines = resellers.statement(session, reseller, since=since, until=until)
        opening = resellers.balance_at(session, reseller, since) if since else Money(0, reseller.currency)
        earned = sum(line.commission.minor for line in lines)
        return {"code": reseller.code, "currency": reseller.currency, "since": since and iso(since),
                "until": until and iso(until), "opening_balance": opening.to_dict(),
                "closing_balance": (lines[-1].balance if lines else opening).to_dict(),
                "commission": money(earned, reseller.currency),
                "lines": [{"at": iso(line.at), "kind": line.kind, "reference": line.reference,
                           "amount": line.amount.to_dict(), "commission": line.commission.to_dict(),
                           "balance": line.balance.to_dict()} for line in lines]}

    return await db.read(read)


@router.get("/statement.csv", response_class=Response, dependencies=[Depends(known_query("since", "until"))],
            responses={
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "date, kind, reference, amount, commission, balance, currency (amounts in major units)"},
    **errors(FORBIDDEN)})
async def get_statement_csv(db: Lane, who: ResellerKey, since: Since = None, until: Until = None) -> Response:
    """The statement as a CSV file to download."""
    def read(session: Session) -> tuple[str, bytes]:
        reseller = own(session, who.reseller_id)
        return reseller.code, export.statement_csv(reseller, resellers.statement(session, reseller, since=since,
                                                                                  until=until))

    code, data = await db.read(read)
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="statement-{code}.csv"'})
