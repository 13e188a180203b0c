"""The API's view of the SIM inventory (GET /api/v1/network/sims, a line's card under /api/v1/lines/{msisdn}/sim)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from simkeep.network.models import Sim


class SimOut(BaseModel):
    iccid: str
    imsi: str
    operator_id: str
    profile: str
    kind: str = Field(description="`physical` or `esim`")
    state: str = Field(description="`in_stock`, `assigned`, `lost` or `retired`")
    line_id: str | None = Field(description="the line it serves or last served; null while in stock")
    imported_at: datetime
    state_changed_at: datetime

    @classmethod
    def of(cls, sim: Sim) -> SimOut:
        return cls(iccid=sim.iccid, imsi=sim.imsi, operator_id=sim.operator_id, profile=sim.profile, kind=sim.kind,
                   state=sim.state, line_id=str(sim.line_id) if sim.line_id else None, imported_at=sim.imported_at,
                   state_changed_at=sim.state_changed_at)


class SimsOut(BaseModel):
    counts: dict[str, int] = Field(description="cards by state, of the operator if one is asked for")
    sims: list[SimOut]
