"""A provisioning element in memory, behind the same Provisioner protocol as osmo-hlr and the gateway."""

from __future__ import annotations

from simkeep.network.adapters import Held, Rejected, Unavailable
from simkeep.network.models import ABSENT


class Crash(BaseException):
    """The worker dies (SIGKILL) right after the network applied a command, before the outcome is recorded."""


class FakeHlr:
    """Holds subscribers by IMSI; `down` makes it unreachable, `reject` refuses with a reason, `crash_after_apply`
    kills the caller after applying once. `applied` records every successful apply in order."""

    def __init__(self) -> None:
        self.held: dict[str, Held] = {}
        self.applied: list[Held] = []
        self.down = False
        self.reject: str | None = None
        self.crash_after_apply = False
        self.closed = 0

    def apply(self, held: Held) -> None:
        if self.down:
            raise Unavailable("connection refused")
        if self.reject:
            raise Rejected(self.reject)
        if held.mode == ABSENT:
            self.held.pop(held.imsi, None)
        else:
            self.held[held.imsi] = held
        self.applied.append(held)
        if self.crash_after_apply:
            self.crash_after_apply = False
            raise Crash()

    def read(self, imsi: str) -> Held:
        if self.down:
            raise Unavailable("connection refused")
        return self.held.get(imsi, Held(imsi, None, ABSENT))

    def close(self) -> None:
        self.closed += 1

    def mode(self, imsi: str) -> str:
        return self.held[imsi].mode if imsi in self.held else ABSENT
