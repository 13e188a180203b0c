"""SMS commands end to end: the test SMSC (tests/notification/smsc.py) delivers deliver_sm to the real SmppSender,
whose listener is the worker's (DbListener with the worker's inbound commands); replies are read from the outbox
and, where the test says so, delivered back through the SMSC."""

from __future__ import annotations

import pytest

from simkeep.config import Settings
from simkeep.notification.senders import make_sender
from simkeep.worker import inbound_commands
from tests.conftest import T0
from tests.factories.lines import make_line, top_up
from tests.notification.smsc import Smsc
from tests.web import FrozenClock, freeze_clock


@pytest.fixture
def smsc():
    with Smsc() as server:
        yield server


@pytest.fixture
def router(smsc, db, settings: Settings):
    """make_sender() as the worker builds it: SMS through SMPP, inbound texts to STOP AUTO and the SMS commands."""
    smpp = settings.model_copy(update={"sms_sender": "smpp", "smpp_url": smsc.url(reconnect=0.05)})
    router = make_sender(smpp, db, commands=inbound_commands(smpp))
    assert router.by_channel["sms"].wait_bound(5)
    yield router
    router.by_channel["sms"].close()


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    return freeze_clock(monkeypatch, T0)


@pytest.fixture
def line(db, clock):
    """+33612345678, French, topped up with 10 EUR at T0 (the clock frozen there)."""
    make_line(db, now=T0)
    top_up(db, now=T0)
    return "+33612345678"
