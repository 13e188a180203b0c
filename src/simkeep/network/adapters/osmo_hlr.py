"""Osmocom's HLR (osmo-hlr) over CTRL (IPA framing, TCP) and VTY (telnet). Written by the osmo-hlr work (issue 15)."""

from __future__ import annotations

from simkeep.network.adapters import Held


class OsmoHlr:
    @classmethod
    def from_url(cls, url: str) -> OsmoHlr:
        raise NotImplementedError

    def apply(self, held: Held) -> None:
        raise NotImplementedError

    def read(self, imsi: str) -> Held:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
