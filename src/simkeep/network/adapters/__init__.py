"""Provisioning adapters: how simkeep tells one operator's network what a subscriber may do.

Each adapter makes the network hold exactly a `Held` state for one IMSI (idempotent: applying the same state twice
changes nothing) and reads back what the network holds (for confirmation and the drift check). Which adapter serves
which operator is configuration (`SIMKEEP_NETWORK_PROVISIONING`: operator id → URL; `*` for every other operator):

- `osmo-hlr://HOST:CTRL_PORT?vty=VTY_PORT`: Osmocom's HLR over its CTRL interface, and its VTY for the
  network-access-mode that also tells the serving network at once (osmo_hlr.py);
- `https://…` / `http://…`: a provisioning gateway speaking simkeep's signed JSON protocol (gateway.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from simkeep.config import Settings


@dataclass(frozen=True, slots=True)
class Held:
    """What the network holds for one IMSI: `mode` one of network.models.MODES (ABSENT: not in the HLR; then
    `msisdn` is None)."""

    imsi: str
    msisdn: str | None
    mode: str


class Unavailable(Exception):
    """The network element cannot be reached or did not answer: try again later (with backoff)."""


class Rejected(Exception):
    """The network element answered and refused (an unknown IMSI to update, a malformed value): retrying the same
    command will not help; a person must look. The reason is the element's, without secrets."""


class Provisioner(Protocol):
    def apply(self, held: Held) -> None:
        """Make the network hold `held` (create, update or delete the subscriber as needed)."""

    def read(self, imsi: str) -> Held:
        """What the network holds for `imsi` (mode ABSENT if it does not know it)."""

    def close(self) -> None: ...


def open_provisioner(url: str, settings: Settings) -> Provisioner:
    """The adapter an operator's URL names."""
    scheme = urlsplit(url).scheme
    if scheme == "osmo-hlr":
        from simkeep.network.adapters.osmo_hlr import OsmoHlr
        return OsmoHlr.from_url(url)
    if scheme in ("http", "https"):
        from simkeep.network.adapters.gateway import Gateway
        return Gateway.from_url(url, settings)
    raise ValueError(f"no provisioning adapter for {scheme!r} URLs (osmo-hlr://, https://)")


def url_for(settings: Settings, operator_id: str) -> str | None:
    """The provisioning URL configured for `operator_id`, or None: its commands wait until one is."""
    routes = settings.network_provisioning
    return routes.get(operator_id) or routes.get("*")
