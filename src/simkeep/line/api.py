from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

from simkeep.core import clock
from simkeep.core.phone import lookup_msisdn
from simkeep.history.service import history
from simkeep.line import service
from simkeep.line.schemas import HistoryOut, LineCreate, LineOut
from simkeep.locale import languages
from simkeep.web.deps import AnyRole, Config, Lane, Staff
from simkeep.web.openapi import errors
from simkeep.web.params import Instant

Msisdn = Annotated[str, Path(max_length=250, description="E.164 (+33612345678) or national (0612345678)")]

router = APIRouter(prefix="/api/v1/lines", tags=["lines"])


@router.post("", status_code=201, response_model=LineOut, responses=errors({
    404: "`operator_not_found`", 409: "`number_unavailable`: the number is in use or in quarantine",
    422: "`unsupported_language`: `language` is no BCP 47 tag of Chinese, French or English (the error's "
         "`supported` lists `zh-CN`, `fr`, `en`)"}, body=True))
async def create_line(body: LineCreate, db: Lane, _who: Staff) -> LineOut:
    def create(session: Session) -> LineOut:
        line = service.create_line(session, msisdn=body.msisdn, operator_id=body.operator_id,
                                   language=body.language, email=body.email, now=clock.now())
        return render(service.view(session, line))

    return await db.write(create)


@router.get("/{msisdn}", response_model=LineOut, responses=errors({404: "`line_not_found`"}))
async def get_line(msisdn: Msisdn, db: Lane, cfg: Config, _who: AnyRole) -> LineOut:
    number = lookup_msisdn(msisdn, cfg.default_region)
    return await db.read(lambda session: render(service.view(session, service.find_line(session, number))))


@router.get("/{msisdn}/history", response_model=HistoryOut, responses=errors({404: "`line_not_found`"}))
async def get_history(msisdn: Msisdn, db: Lane, cfg: Config, _who: AnyRole,
                      before: Annotated[Instant | None,
                                        Query(description="cursor: next_before of the previous page "
                                                          "(an ISO-8601 instant with its offset, years 1900 to 9999)")
                                        ] = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50) -> HistoryOut:
    number = lookup_msisdn(msisdn, cfg.default_region)
    items, cursor = await db.read(lambda session: history(session, service.find_line(session, number),
                                                          before=before, limit=limit))
    for item in items:
        item["at"] = item["at"].isoformat()
    return HistoryOut(items=items, next_before=cursor)


def render(view: service.LineView) -> LineOut:
    line = view.line
    return LineOut(
        id=str(line.id), msisdn=line.msisdn, operator_id=line.operator_id, state=line.state,
        balance=view.balance.to_dict(), credit=view.credit.to_dict(), bonus=view.bonus.to_dict(),
        validity_ends_at=line.validity_ends_at, number_loss_at=line.number_loss_at,
        available_at=line.available_at, language=languages.tag(line.language),
    )
