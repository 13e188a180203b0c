from fastapi import APIRouter

from simkeep.core import clock
from simkeep.locale.languages import DEFAULT, LANGUAGES
from simkeep.plan import service
from simkeep.plan.planner import Plan
from simkeep.plan.schemas import PlanCreate, PlansOut
from simkeep.web.deps import Lane, Partner
from simkeep.web.openapi import errors

router = APIRouter(prefix="/api/v1/plans", tags=["top-ups"])

NOTE = ("Prices are today's catalog and the campaigns known now, each on the days of its window; a campaign's "
        "budget is not promised. Renewals are planned at 10:00 local time (today: now).")


@router.post("", response_model=PlansOut, responses=errors({
    404: "`line_not_found`", 409: "`no_plan` (the number is already lost, or no renewals can keep it)",
    422: "`plan_date_invalid` (from tomorrow up to ten years ahead), `invalid_input`"}, body=True))
async def create_plan(body: PlanCreate, db: Lane, _who: Partner) -> dict:
    """The cheapest sequence of renewals that keeps the number until `until`, with the alternatives that never
    bar the line, each explained in plain words."""
    language = body.language if body.language in LANGUAGES else DEFAULT
    found = await db.read(lambda session: service.plans_for(session, msisdn=body.msisdn, until=body.until,
                                                            now=clock.now(), channel="api"))
    return plans_dict(found, language)


def plans_dict(found: service.Plans, language: str) -> dict:
    def one(p: Plan) -> dict:
        cur = p.currency
        return {"mode": p.mode, "until": p.until.isoformat(),
                "total": {"amount_minor": p.total_minor, "currency": cur},
                "steps": [{"date": s.day.isoformat(), "offer_id": s.offer_id,
                           "price": {"amount_minor": s.price_minor, "currency": cur},
                           "list_price": {"amount_minor": s.list_minor, "currency": cur},
                           "validity_days": s.validity_days, "periods": s.periods, "bonus_days": s.bonus_days,
                           "state": s.state, "validity_ends_on": s.validity_ends_on.isoformat(),
                           "promotions": list(s.promotions)} for s in p.steps],
                "number_loss_on": p.number_loss_on.isoformat(), "grace_days": p.grace_days,
                "suspended_days": p.suspended_days,
                "explanation": service.explain(p, language, today=found.today, msisdn=found.line.msisdn)}
    return {"msisdn": found.line.msisdn, "today": found.today.isoformat(), "until": found.until.isoformat(),
            "plan": one(found.cheapest), "alternatives": [one(p) for p in found.plans[1:]], "note": NOTE}
