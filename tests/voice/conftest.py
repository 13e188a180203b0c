"""The telephony peers, started once per test session: Kamailio as the operator's registrar and proxy (callers are
SIPp runs, started per call by tests/voice/peers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.voice.peers import Kamailio


@pytest.fixture(scope="session")
def kamailio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kamailio]:
    with Kamailio(tmp_path_factory.mktemp("kamailio")) as proxy:
        yield proxy
