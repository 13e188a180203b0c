from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import select

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.line.models import Line
from simkeep.network import service
from simkeep.network.models import NetworkLine, ProvisioningCommand
from simkeep.network.tasks import Adapters
from tests.factories.lines import make_line
from tests.network.fakes import FakeHlr
from tests.network.hlr import OsmoHlrPeer

IMSI = "208011234567890"
MSISDN = "+33612345678"
SYMA = "fr-syma"  # grace 90, suspended 30, quarantine 45 days


@pytest.fixture
def hlr() -> FakeHlr:
    return FakeHlr()


@pytest.fixture
def adapters(hlr: FakeHlr) -> Adapters:
    return Adapters(lambda url, settings: hlr)


@pytest.fixture
def net(settings: Settings) -> Settings:
    """Settings with every operator provisioned through the fake element, and no jitter room needed in asserts."""
    return settings.model_copy(update={"network_provisioning": {"*": "fake://hlr"}})


def sim_line(db: Database, *, now: datetime, msisdn: str = MSISDN, imsi: str = IMSI,
             operator_id: str = SYMA) -> Line:
    """A line with a SIM bound: its first command (cs+ps) is pending."""
    line = make_line(db, msisdn=msisdn, operator_id=operator_id, now=now)
    with db.transaction() as session:
        service.bind(session, line_id=line.id, operator_id=operator_id, msisdn=line.msisdn, line_state=line.state,
                     imsi=imsi, reason="bind", now=now)
    return line


def commands(db: Database, line_id=None) -> list[ProvisioningCommand]:
    with db.transaction(write=False) as session:
        query = select(ProvisioningCommand).order_by(ProvisioningCommand.line_id, ProvisioningCommand.seq)
        if line_id is not None:
            query = query.where(ProvisioningCommand.line_id == line_id)
        return list(session.scalars(query))


def network_line(db: Database, line_id) -> NetworkLine:
    with db.transaction(write=False) as session:
        row = session.get(NetworkLine, line_id)
        assert row is not None
        return row


@pytest.fixture(scope="session")
def osmo_hlr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OsmoHlrPeer]:
    """A real osmo-hlr (tests/network/hlr.py): `url` for SIMKEEP_NETWORK_PROVISIONING, `stop()`/`start()` (same
    database), `pause()`/`resume()`, and helpers to read or change a subscriber directly and read its history. Tests
    use IMSIs of their own; a test that stopped or paused it starts or resumes it again."""
    peer = OsmoHlrPeer(tmp_path_factory.mktemp("osmo-hlr"))
    try:
        peer.start()
        yield peer
    finally:
        peer.close()
