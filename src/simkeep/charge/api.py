from fastapi import APIRouter, Response

from simkeep.charge import service
from simkeep.charge.schemas import ChargeCreate, ChargeOut, MoneyOut
from simkeep.core import clock
from simkeep.web.deps import AdminOnly, Config, IdempotencyKey, Lane
from simkeep.web.openapi import errors

router = APIRouter(prefix="/api/v1/charges", tags=["charges"])


@router.post("", status_code=201, response_model=ChargeOut,
             responses=errors({
                 400: "`idempotency_key_missing`",
                 402: "`insufficient_balance`: nothing was written",
                 404: "`line_not_found`",
                 409: "`line_not_chargeable` or `idempotency_key_reused` (the same Idempotency-Key with a different body)",
                 422: "`invalid_amount`, or `invalid_input`: a malformed Idempotency-Key"}, body=True))
async def create_charge(body: ChargeCreate, key: IdempotencyKey, db: Lane, cfg: Config, who: AdminOnly,
                        response: Response) -> ChargeOut:
    result = await db.write(lambda session: service.charge(
        session, principal=who.id, idempotency_key=key, msisdn=body.msisdn, amount_minor=body.amount_minor,
        kind=body.kind, now=clock.now(), region=cfg.default_region))
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    c = result.charge
    return ChargeOut(id=str(c.id), msisdn=c.msisdn, kind=c.kind,
                     amount=MoneyOut(amount_minor=c.amount_minor, currency=c.currency),
                     bonus_used=MoneyOut(amount_minor=c.bonus_used_minor, currency=c.currency), created_at=c.created_at)
