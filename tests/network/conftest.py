"""The network tests' HLR: one osmo-hlr for the whole session (tests/network/hlr.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.network.hlr import OsmoHlrPeer


@pytest.fixture(scope="session")
def osmo_hlr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OsmoHlrPeer]:
    """A running osmo-hlr: `url` for SIMKEEP_NETWORK_PROVISIONING, `stop()`/`start()` (same database), and helpers to
    read or change a subscriber directly. Tests use IMSIs of their own; a test that stopped it starts it again."""
    peer = OsmoHlrPeer(tmp_path_factory.mktemp("osmo-hlr"))
    try:
        peer.start()
        yield peer
    finally:
        peer.close()
