from __future__ import annotations

from collections.abc import Iterator

import pytest

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.notification.senders import ChannelRouter
from simkeep.notification.senders.file import FileSender
from simkeep.notification.senders.smpp import SmppSender
from simkeep.notification.tasks import DbListener
from simkeep.ussd import tasks
from tests.notification.smsc import Smsc
from tests.ussd import Handset
from tests.web import FrozenClock, freeze_clock


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    return freeze_clock(monkeypatch)


@pytest.fixture
def smsc() -> Iterator[Smsc]:
    with Smsc() as server:
        yield server


@pytest.fixture
def router(smsc: Smsc, db: Database, settings: Settings, tmp_path) -> Iterator[ChannelRouter]:
    """The worker's senders: SMS and USSD over one SMPP bind whose listener runs the USSD menu."""
    sender = SmppSender(smsc.url(), listener=DbListener(db, ussd_menu=tasks.menu(settings)), receipt_hold=0.0)
    assert sender.wait_bound(5)
    router = ChannelRouter({"sms": sender, "ussd": sender}, default=FileSender(tmp_path / "messages.log", echo=False))
    yield router
    router.close()


@pytest.fixture
def handset(smsc: Smsc, db: Database, router: ChannelRouter, clock) -> Handset:
    return Handset(smsc, db, router)
