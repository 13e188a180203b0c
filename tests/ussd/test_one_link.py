"""SMS commands and USSD on the one SMPP bind the worker keeps: make_sender() as run_worker builds it."""

from __future__ import annotations

from simkeep.notification.senders import make_sender
from simkeep.notification.tasks import deliver_due
from simkeep.ussd import tasks
from simkeep.worker import inbound_commands
from tests.conftest import T0
from tests.factories.lines import make_line, top_up
from tests.ussd import OPEN, REQUEST, session_info
from tests.ussd.test_session import BALANCE, MENU


def test_an_sms_command_and_a_ussd_session_share_the_link(db, smsc, settings, clock):
    make_line(db, language="zh_CN", now=T0)
    top_up(db, now=T0)
    smpp = settings.model_copy(update={"sms_sender": "smpp", "smpp_url": smsc.url()})
    router = make_sender(smpp, db, commands=inbound_commands(smpp), ussd_menu=tasks.menu(smpp))
    try:
        assert router.by_channel["sms"].wait_bound(5) and router.by_channel["ussd"] is router.by_channel["sms"]
        assert smsc.deliver_mo("33612345678", "余额", message_id="MO000001") == 0
        assert smsc.deliver_ussd("33612345678", "*100#", OPEN, session_info(6, 0)) == 0
        deliver_due(db, router)
        assert smsc.deliver_ussd("33612345678", "1", 18, session_info(6, 2)) == 0
        deliver_due(db, router)
    finally:
        router.close()
    sms = [pdu.text for pdu in smsc.submits if pdu.service_type != "USSD"]
    assert [text for text in sms if "：余额€10.00" in text] == [
        "号码+33612345678：余额€10.00，有效期至2027年4月14日。请在2027年10月11日（含）之前充值以保留号码。"]
    assert [(a.text, a.ussd_service_op, a.its_session_info) for a in smsc.ussd_answers] == [
        (MENU["zh_CN"], REQUEST, session_info(6, 1)), (BALANCE["zh_CN"], REQUEST, session_info(6, 3))]
