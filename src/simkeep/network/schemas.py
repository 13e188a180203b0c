"""API shapes of the network domain."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from simkeep.network.service import NetworkStatus

Mode = Literal["absent", "none", "cs", "ps", "cs+ps"]


class NetworkOut(BaseModel):
    """What the network should hold for the line's SIM and what it last confirmed holding."""

    desired: Mode = Field(description="From the line's state and the operator's rules: `cs+ps` (voice, SMS and data), "
                                      "`cs` (voice and SMS), `ps` (data), `none` (all barred), `absent` (removed "
                                      "from the HLR, the number cleared).")
    desired_at: datetime = Field(description="Since when `desired` is wanted.")
    confirmed: Mode | None = Field(description="What the network last confirmed (null: never yet).")
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
