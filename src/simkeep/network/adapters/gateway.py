"""A provisioning gateway over signed HTTP/JSON. Written by the gateway work (issue 15)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simkeep.network.adapters import Held

if TYPE_CHECKING:
    from simkeep.config import Settings


class Gateway:
    @classmethod
    def from_url(cls, url: str, settings: Settings) -> Gateway:
        raise NotImplementedError

    def apply(self, held: Held) -> None:
        raise NotImplementedError

    def read(self, imsi: str) -> Held:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
