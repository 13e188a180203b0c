"""One USSD PDU handed to several workers at once (an SMSC redelivering to another bind): it acts once. Each twin
runs the listener's own transaction (DbListener.ussd) on its own thread and connection."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from simkeep.notification.models import OutboxMessage
from simkeep.notification.senders.base import UssdIn
from simkeep.notification.tasks import DbListener
from simkeep.topup.models import TopUp
from simkeep.ussd import tasks
from simkeep.ussd.models import UssdSession
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.vouchers import make_reseller, sold_cards
from tests.ussd import CONFIRM, MSISDN, OPEN, session_info
from tests.ussd.test_session import MENU
from tests.web import balances, freeze_clock, race

N = 8


def answers(db) -> list[str]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(OutboxMessage.payload).where(OutboxMessage.channel == "ussd")
                                    .order_by(OutboxMessage.created_at, OutboxMessage.dedup_key)))


def listener(db, settings) -> tuple[DbListener, list]:
    woken: list[int] = []
    lock = threading.Lock()

    def wake() -> None:
        with lock:
            woken.append(1)

    return DbListener(db, ussd_menu=tasks.menu(settings), wake=wake), woken


def test_a_dial_delivered_to_several_workers_opens_one_session(db, settings, monkeypatch):
    freeze_clock(monkeypatch, T0)
    make_line(db, language="en", now=T0)
    menu, woken = listener(db, settings)
    for number in range(5):  # five dials one after the other, each raced (a new dial replaces the last session)
        race(N, lambda _, number=number: menu.ussd(UssdIn(MSISDN, "*100#", OPEN, session_info(number, 0))))
    with db.transaction(write=False) as session:
        assert session.execute(select(UssdSession.smsc_session, UssdSession.outcome)
                               .order_by(UssdSession.smsc_session)).all() == [
            (0, "replaced"), (1, "replaced"), (2, "replaced"), (3, "replaced"), (4, None)]
    assert sorted(a["session_info"] for a in answers(db)) == [session_info(number, 1) for number in range(5)]
    assert len(woken) == 5


def test_a_pin_delivered_to_several_workers_credits_once(db, settings, monkeypatch):
    freeze_clock(monkeypatch, T0)
    make_line(db, language="en", now=T0)
    make_reseller(db, now=T0)
    _serial, pin = sold_cards(db, quantity=1, now=T0)[0]
    menu, woken = listener(db, settings)
    menu.ussd(UssdIn(MSISDN, "*100#", OPEN, session_info(3, 0)))
    menu.ussd(UssdIn(MSISDN, "2", CONFIRM, session_info(3, 2)))

    race(N, lambda _: menu.ussd(UssdIn(MSISDN, pin, CONFIRM, session_info(3, 4))))
    assert balances(db) == (1000, 0)
    with db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(TopUp)) == 1
        assert session.scalar(select(UssdSession.outcome)) == "renewed"
    assert [a["text"] for a in answers(db)] == [
        MENU["en"], "Type the PIN of your recharge card\n0 Back",
        "Card accepted: €10.00 added. Balance €10.00, valid until April 14, 2027. Number kept until October 11, 2027."]
    assert len(woken) == 3
