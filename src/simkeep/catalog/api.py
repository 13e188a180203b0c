from fastapi import APIRouter

from simkeep.catalog import service
from simkeep.catalog.schemas import OfferOut, OperatorOut
from simkeep.core.money import Money
from simkeep.web.deps import AnyRole, Lane
from simkeep.web.openapi import errors

router = APIRouter(prefix="/api/v1", tags=["catalog"])


@router.get("/operators", response_model=list[OperatorOut], responses=errors())
async def list_operators(db: Lane, _who: AnyRole) -> list[OperatorOut]:
    return await db.read(lambda session: [_operator(op, offers) for op, offers in service.list_operators(session)])


def _operator(op, offers) -> OperatorOut:
    return OperatorOut(
        id=op.id, country=op.country, brand=op.brand, product=op.product, currency=op.currency,
        timezone=op.timezone, grace_days=op.grace_days, suspended_days=op.suspended_days,
        quarantine_days=op.quarantine_days, max_validity_days=op.max_validity_days,
        reminder_offsets=op.reminder_offsets, validity_stacking=op.validity_stacking,
        offers=[OfferOut(id=o.id, price=Money(o.price_minor, op.currency).to_dict(),
                         bonus=Money(o.bonus_minor, op.currency).to_dict(), validity_days=o.validity_days)
                for o in offers],
    )
