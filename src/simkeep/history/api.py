from typing import Annotated

from fastapi import APIRouter, Query

from simkeep.core.phone import lookup_msisdn
from simkeep.history.schemas import HistoryOut
from simkeep.history.service import history
from simkeep.line import service as lines
from simkeep.web.deps import Config, Lane, Partner
from simkeep.web.openapi import errors
from simkeep.web.params import Instant, Msisdn

# Under the line's own URL: a line's history is read where the line is.
router = APIRouter(prefix="/api/v1/lines", tags=["lines"])


@router.get("/{msisdn}/history", response_model=HistoryOut, responses=errors({404: "`line_not_found`"}))
async def get_history(msisdn: Msisdn, db: Lane, cfg: Config, _who: Partner,
                      before: Annotated[Instant | None,
                                        Query(description="cursor: next_before of the previous page "
                                                          "(an ISO-8601 instant with its offset, years 1900 to 9999)")
                                        ] = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50) -> HistoryOut:
    number = lookup_msisdn(msisdn, cfg.default_region)
    items, cursor = await db.read(lambda session: history(session, lines.find_line(session, number),
                                                          before=before, limit=limit))
    for item in items:
        item["at"] = item["at"].isoformat()
    return HistoryOut(items=items, next_before=cursor)
