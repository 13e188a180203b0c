"""API shapes of the network domain: the SIM inventory (GET /api/v1/network/sims, a line's card under
/api/v1/lines/{msisdn}/sim) and a line's network state (`network` in GET /api/v1/lines/{msisdn})."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from simkeep.network.models import Sim
from simkeep.network.service import NetworkStatus


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


class NetworkOut(BaseModel):
    """What the network should hold for the line's SIM and what it last confirmed holding."""

    desired: str = Field(description="From the line's state and the operator's rules: `cs+ps` (voice, SMS and data), "
                                      "`cs` (voice and SMS), `ps` (data), `none` (all barred), `absent` (removed "
                                      "from the HLR, the number cleared).")
    desired_at: datetime = Field(description="Since when `desired` is wanted.")
    confirmed: str | None = Field(description="What the network last confirmed (null: never yet).")
    confirmed_at: datetime | None
    in_sync: bool = Field(description="True when the last command was confirmed and none waits.")
    pending_commands: int = Field(description="Provisioning commands still to send (retried while the element is "
                                              "down).")
    last_error: str | None = Field(description="Why the waiting command has not gone through yet, if it failed.")
    imsi: str = Field(description="The SIM's IMSI, masked: the network code (MCC-MNC) and the last two digits.")
    checked_at: datetime | None = Field(description="The last drift check of this line.")
    drift: str | None = Field(description="What that check found different on the network (null: nothing).")

    @classmethod
    def of(cls, status: NetworkStatus) -> NetworkOut:
        return cls(desired=status.desired, desired_at=status.desired_at, confirmed=status.confirmed,
                   confirmed_at=status.confirmed_at, in_sync=status.in_sync, pending_commands=status.pending,
                   last_error=status.last_error, imsi=status.imsi_masked, checked_at=status.checked_at,
                   drift=status.drift)
