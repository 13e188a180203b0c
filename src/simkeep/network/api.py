"""GET /api/v1/network/sims: the SIM inventory for staff systems (a store's stock screen, the operator's tools):
counts by state and cards by ICCID or IMSI prefix, state and operator. A line's card is changed under the line
(line/api.py: /api/v1/lines/{msisdn}/sim), which knows the line."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from simkeep.core.errors import SimNotFound
from simkeep.network import repository
from simkeep.network.inventory import clean_iccid
from simkeep.network.schemas import SimOut, SimsOut
from simkeep.web.deps import Lane, Staff
from simkeep.web.openapi import errors

router = APIRouter(prefix="/api/v1/network", tags=["network"])
SimState = Literal["in_stock", "assigned", "lost", "retired"]


@router.get("/sims", response_model=SimsOut, responses=errors())
async def list_sims(db: Lane, _who: Staff,
                    q: Annotated[str, Query(max_length=22, pattern=r"^[0-9]*$",
                                            description="an ICCID or IMSI, or its first digits")] = "",
                    state: SimState | None = None,
                    operator_id: Annotated[str | None, Query(max_length=64)] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100) -> SimsOut:
    """Cards by state (counts), and the cards that match, the most recently changed first."""
    def read(session) -> SimsOut:
        found = repository.search_sims(session, text=q, state=state, operator_id=operator_id, limit=limit)
        return SimsOut(counts=repository.sim_counts(session, operator_id), sims=[SimOut.of(s) for s in found])

    return await db.read(read)


@router.get("/sims/{iccid}", response_model=SimOut, responses=errors({404: "`sim_not_found`"}))
async def get_sim(iccid: Annotated[str, Path(max_length=32)], db: Lane, _who: Staff) -> SimOut:
    def read(session) -> SimOut:
        sim = repository.sim_by_iccid(session, clean_iccid(iccid))
        if sim is None:
            raise SimNotFound()
        return SimOut.of(sim)

    return await db.read(read)
