from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Response

from simkeep.core import clock
from simkeep.topup import service
from simkeep.topup.models import TopUp
from simkeep.topup.schemas import TopUpCreate, TopUpOut
from simkeep.web.deps import Config, IdempotencyKey, Lane, Partner
from simkeep.web.openapi import errors

router = APIRouter(prefix="/api/v1/topups", tags=["top-ups"])


@router.post("", status_code=201, response_model=TopUpOut, responses=errors({
    400: "`idempotency_key_missing`",
    404: "`line_not_found` or `offer_not_found`",
    409: "`line_not_renewable`, `validity_cap_reached`, or `idempotency_key_reused` (the same Idempotency-Key with a "
         "different body)",
    422: "`invalid_input`: a malformed Idempotency-Key"}, body=True))
async def create_topup(body: TopUpCreate, key: IdempotencyKey, db: Lane, cfg: Config, who: Partner) -> Response:
    result = await db.write(lambda session: service.top_up(
        session, principal=who.id, idempotency_key=key, msisdn=body.msisdn, offer_id=body.offer_id,
        channel=body.channel, now=clock.now(), region=cfg.default_region))
    # Serialised directly: the hottest endpoint skips re-validating what it just built (the schema still
    # documents it in OpenAPI).
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return Response(orjson.dumps(as_dict(result.topup)), status_code=201, media_type="application/json",
                    headers=headers)


@router.get("/{topup_id}", response_model=TopUpOut, responses=errors({404: "`topup_not_found`"}))
async def get_topup(topup_id: Annotated[str, Path(description="the top-up's id (a UUID); anything else is 404")], db: Lane, _who: Partner) -> dict:
    return await db.read(lambda session: as_dict(service.get_topup(session, topup_id)))


def as_dict(t: TopUp) -> dict:
    return {"id": str(t.id), "status": t.status, "msisdn": t.msisdn, "offer_id": t.offer_id, "channel": t.channel,
            "amount": {"amount_minor": t.price_minor, "currency": t.currency},
            "bonus": {"amount_minor": t.bonus_minor, "currency": t.currency},
            "validity_ends_at": t.validity_ends_at.isoformat().replace("+00:00", "Z"),
            "created_at": t.created_at.isoformat().replace("+00:00", "Z")}

