"""SMS over SMPP 3.4 against a real SMSC on 127.0.0.1 (tests/notification/smsc.py) that records every PDU."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.line.models import Line
from simkeep.notification import outbox, templates
from simkeep.notification.models import DeliveryAttempt, InboundMessage, OutboxMessage
from simkeep.notification.segments import gsm7_codes
from simkeep.notification.senders import make_sender
from simkeep.notification.senders.base import Outgoing, PermanentFailure, TemporaryFailure
from simkeep.notification.senders.file import FileSender
from simkeep.notification.senders.smpp import RateLimiter, SmppSender, pack_septets, split_text
from simkeep.notification.tasks import deliver_due
from tests.factories.lines import make_line, top_up
from tests.notification.smsc import Smsc
from tests.web import freeze_clock

MSISDN = "+33612345678"
# A Chinese reminder of two segments, with an emoji whose surrogate pair would straddle the 67-unit boundary.
CHINESE = ("【simkeep】您的号码 +33612345678 将于2027年4月15日被运营商回收，届时无法恢复。为保留号码，请在此之前充值"
           "📱任意金额（最低 5,00 €）。续费请访问 https://simkeep.example/r/33612345678 回复 STOP 退订提醒。")


class Recorder:
    """A Listener that remembers what the sender reported."""

    def __init__(self) -> None:
        self.receipts: list[tuple[str, str]] = []
        self.got: list[tuple[str, str]] = []
        self.ids: list[str | None] = []

    def receipt(self, external_id: str, status: str) -> None:
        self.receipts.append((external_id, status))

    def inbound(self, sender: str, text: str, message_id: str | None = None) -> None:
        self.got.append((sender, text))
        self.ids.append(message_id)


def outgoing(text: str, recipient: str = MSISDN) -> Outgoing:
    return Outgoing(id=uuid.uuid4(), topic="reminder", channel="sms", recipient=recipient, language="zh_CN",
                    text=text, payload={}, attempt=1)


@pytest.fixture
def smsc():
    with Smsc() as server:
        yield server


@pytest.fixture
def connect(smsc):
    """connect(**query) -> a bound SmppSender (closed after the test)."""
    made: list[SmppSender] = []

    def make(*, password: str | None = None, wait: bool = True, listener=None, **options) -> SmppSender:
        query = {k: options.pop(k) for k in list(options) if k in ("source", "enquire_link", "reconnect", "timeout",
                                                                      "gsm7")}
        options.setdefault("receipt_hold", 0.0)
        options.setdefault("throttle_pause", 0.0)
        sender = SmppSender(smsc.url(password, **query), listener=listener, **options)
        made.append(sender)
        assert not wait or sender.wait_bound(5)
        return sender

    yield make
    for sender in made:
        sender.close()


@pytest.fixture
def router(smsc, db, tmp_path):
    """make_sender() as the worker builds it, SMS through SMPP to the test SMSC."""
    router = make_sender(Settings(sms_sender="smpp", smpp_url=smsc.url(reconnect=0.05), data_dir=tmp_path), db)
    assert router.by_channel["sms"].wait_bound(5)
    yield router
    router.by_channel["sms"].close()


def rows(db, topic: str | None = None) -> list[OutboxMessage]:
    with db.transaction(write=False) as session:
        query = select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
        return list(session.scalars(query.where(OutboxMessage.topic == topic) if topic else query))


def make_due(db) -> None:
    with db.transaction() as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=clock.now() - timedelta(seconds=1)))


def reassemble(parts) -> bytes:
    """User data of recorded concatenated parts, put back in order by reference and sequence."""
    [reference] = {p.concatenation[0] for p in parts}
    assert reference is not None
    return b"".join(p.user_data for p in sorted(parts, key=lambda p: p.concatenation[2]))


# --- encoding and segmentation -------------------------------------------------------------------------------

def test_a_gsm7_text_goes_in_one_submit_sm_with_the_extension_table_escaped(smsc, connect):
    sender = connect()
    sent = sender.send(outgoing("@£$¥ 10€ [ok] {a|b} ~^\\ Çà"))
    [pdu] = smsc.submits
    assert pdu.short_message == (b"\x00\x01\x02\x03 10\x1b\x65 \x1b\x3cok\x1b\x3e \x1b\x28a\x1b\x40b\x1b\x29 "
                                 b"\x1b\x3d\x1b\x14\x1b\x2f \x09\x7f")
    assert (pdu.data_coding, pdu.esm_class, pdu.registered_delivery) == (0, 0, 1)
    assert (pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi) == ("simkeep", 5, 0)
    assert (pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi) == ("33612345678", 1, 1)
    assert (sent.external_id, sent.detail) == (pdu.message_id, "1 part, GSM-7")


def test_babel_no_break_spaces_do_not_force_ucs2(smsc, connect):
    connect().send(outgoing("Votre recharge de 10,00\u00a0€ est effectuée.\u202fMerci"))
    [pdu] = smsc.submits
    assert pdu.data_coding == 0
    assert pdu.short_message == b"Votre recharge de 10,00 \x1be est effectu\x05e. Merci"


def test_a_long_gsm7_text_is_split_into_153_septet_parts_without_cutting_an_escape(smsc, connect):
    sender = connect()
    message = outgoing("a" * 152 + "€" + "b" * 200)
    sent = sender.send(message)
    parts = smsc.submits
    assert [len(p.user_data) for p in parts] == [152, 153, 49]  # € (1B 65) would not fit in part 1
    assert parts[1].user_data[:2] == b"\x1b\x65"
    reference = message.id.int & 0xFF
    assert [p.udh for p in parts] == [bytes([5, 0, 3, reference, 3, seq]) for seq in (1, 2, 3)]
    assert {(p.esm_class, p.data_coding) for p in parts} == {(0x40, 0)}
    assert reassemble(parts) == b"a" * 152 + b"\x1b\x65" + b"b" * 200
    assert sent.external_id == parts[-1].message_id and sent.detail.startswith("3 parts, GSM-7")


def test_segment_limits():
    assert [len(c) for c in split_text("x" * 160).chunks] == [160]
    assert [len(c) for c in split_text("x" * 161).chunks] == [153, 8]
    assert [len(c) for c in split_text("€" * 80).chunks] == [160]  # 80 escapes: 160 septets
    assert [len(c) for c in split_text("€" * 81).chunks] == [152, 10]
    assert [len(c) // 2 for c in split_text("好" * 70).chunks] == [70]
    assert [len(c) // 2 for c in split_text("好" * 71).chunks] == [67, 4]
    assert split_text("好").encoding == "UCS-2" and split_text("ok").encoding == "GSM-7"


def test_a_chinese_reminder_arrives_as_concatenated_ucs2_parts(smsc, connect):
    assert len(CHINESE.encode("utf-16-be")) // 2 > 70
    assert CHINESE.encode("utf-16-be").index("📱".encode("utf-16-be")) == 66 * 2  # would straddle units 67/68
    sender = connect()
    message = outgoing(CHINESE)
    sent = sender.send(message)
    parts = smsc.submits
    reference, total = message.id.int & 0xFF, len(CHINESE.encode("utf-16-be")) // 2
    assert len(parts) == 3 == -(-(total + 1) // 67)  # the emoji moved to part 2 costs one unit of part 1
    assert {(p.data_coding, p.esm_class, p.registered_delivery) for p in parts} == {(8, 0x40, 1)}
    assert [p.concatenation for p in parts] == [(reference, 3, 1), (reference, 3, 2), (reference, 3, 3)]
    assert [len(p.user_data) // 2 for p in parts] == [66, 67, total - 133]
    assert all(len(p.short_message) <= 140 for p in parts)
    for part in parts:  # each part decodes on its own: no surrogate pair was cut
        part.user_data.decode("utf-16-be")
    assert parts[1].user_data.decode("utf-16-be").startswith("📱")
    assert reassemble(list(reversed(parts))).decode("utf-16-be") == CHINESE
    assert sent.external_id == parts[-1].message_id
    assert sent.detail == f"3 parts, UCS-2 (part ids {', '.join(p.message_id for p in parts)})"


def test_the_chinese_reminder_template_goes_out_as_the_preview_counts_it(db, smsc, router):
    line = make_line(db, language="zh_CN", now=clock.now())
    payload = {"msisdn": MSISDN, "days_before": 7, "number_loss_at": (clock.now() + timedelta(days=7)).isoformat(),
               "timezone": "Europe/Paris", "state": "grace", "renew_url": "https://simkeep.example/renew?n=33612345678",
               "cheapest_offer": {"id": "fr-orange-mobicarte-5", "amount": {"amount_minor": 500, "currency": "EUR"},
                                  "validity_days": 30}}
    before = templates.sms("reminder", "zh_CN", payload, now=clock.now())
    with db.transaction() as session:
        outbox.enqueue(session, [outbox.Message(dedup_key="reminder:test", topic="reminder", channel=outbox.SMS,
                                                recipient=MSISDN, language="zh_CN", payload=payload, line_id=line.id)],
                       now=clock.now())
    assert deliver_due(db, router) == 1
    after = templates.sms("reminder", "zh_CN", payload, now=clock.now())
    parts = smsc.submits
    text = reassemble(parts).decode("utf-16-be")
    assert text in (before.text, after.text) and "如不充值" in text and before.units > 70
    assert len(parts) == before.segments == 2 and {(p.data_coding, p.esm_class) for p in parts} == {(8, 0x40)}
    assert [p.concatenation[1:] for p in parts] == [(2, 1), (2, 2)]
    assert rows(db)[0].external_id == parts[-1].message_id


def test_a_very_long_chinese_text_keeps_every_part_in_sequence(smsc, connect):
    text = CHINESE * 4
    connect().send(outgoing(text))
    parts = smsc.submits
    assert [p.concatenation[1:] for p in parts] == [(len(parts), seq) for seq in range(1, len(parts) + 1)]
    assert len(parts) == 9 and all(len(p.user_data) <= 134 for p in parts)
    assert reassemble(parts).decode("utf-16-be") == text


def test_packed_gsm7_when_the_smsc_wants_it(smsc, connect):
    sender = connect(gsm7="packed")
    sender.send(outgoing("hellohello"))
    sender.send(outgoing("x" * 161))
    single, first, second = smsc.submits
    assert single.short_message == bytes.fromhex("E8329BFD4697D9EC37")
    assert len(first.short_message) == 140 and first.udh[:3] == b"\x05\x00\x03"  # 6 + 134 octets
    assert first.user_data[0] == (ord("x") << 1) & 0xFF  # one fill bit after the UDH
    assert len(second.user_data) == 8  # 1 + 8 × 7 bits, the 7 spare bits filled with CR
    assert second.user_data[-1] >> 1 == 0x0D


def test_a_number_that_is_not_e164_fails_without_reaching_the_smsc(smsc, connect):
    with pytest.raises(PermanentFailure):
        connect().send(outgoing("hi", recipient="0612345678"))
    assert smsc.submits == []


def test_a_short_code_and_an_international_sender_get_their_ton_npi(smsc, connect):
    connect(source="36180").send(outgoing("a"))
    connect(source="+33700000000").send(outgoing("b"))
    assert [(p.source_addr, p.source_addr_ton, p.source_addr_npi) for p in smsc.submits] == [
        ("36180", 3, 0), ("33700000000", 1, 1)]


# --- SMSC answers --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [0x58, 0x14, 0x08])
def test_throttling_a_full_queue_and_system_errors_are_temporary(smsc, connect, status):
    sender = connect()
    smsc.answer_next_submit(status)
    with pytest.raises(TemporaryFailure, match=f"0x{status:08X}"):
        sender.send(outgoing("hi"))
    assert sender.send(outgoing("hi")).external_id == smsc.submits[-1].message_id


@pytest.mark.parametrize("status", [0x0B, 0x0A, 0x45, 0x62])
def test_invalid_addresses_and_other_rejections_are_permanent(smsc, connect, status):
    sender = connect()
    smsc.answer_next_submit(status)
    with pytest.raises(PermanentFailure, match=f"0x{status:08X}"):
        sender.send(outgoing("hi"))


def test_throttling_pauses_the_next_submit(smsc, connect):
    sender = connect(throttle_pause=0.3)
    smsc.answer_next_submit(0x58)
    with pytest.raises(TemporaryFailure):
        sender.send(outgoing("hi"))
    sender.send(outgoing("hi"))
    first, second = smsc.submits
    assert second.at - first.at >= 0.25


def test_a_part_failing_midway_fails_the_message_and_its_sent_parts_no_longer_count(smsc, connect):
    listener = Recorder()
    sender = connect(listener=listener)
    smsc.answer_next_submit(0)
    smsc.answer_next_submit(0x58)
    with pytest.raises(TemporaryFailure):
        sender.send(outgoing("x" * 400))
    assert smsc.deliver_receipt(smsc.submits[0].message_id, "UNDELIV") == 0
    assert listener.receipts == []


# --- through the outbox --------------------------------------------------------------------------------------

def test_a_delivery_receipt_is_recorded_on_the_outbox_row(db, smsc, router):
    make_line(db, now=clock.now())
    top_up(db, now=clock.now())
    assert deliver_due(db, router) == 1
    [row] = rows(db)
    assert (row.status, row.external_id) == ("sent", smsc.submits[-1].message_id)
    assert smsc.submits[-1].destination_addr == "33612345678"
    assert smsc.deliver_receipt(row.external_id, "DELIVRD") == 0  # answered once recorded
    [row] = rows(db)
    assert (row.receipt_status, row.receipt_at is not None) == ("DELIVRD", True)
    with db.transaction(write=False) as session:
        [attempt] = session.scalars(select(DeliveryAttempt))
    assert attempt.outcome == "sent" and "part" in attempt.detail


def test_the_last_parts_receipt_speaks_for_a_long_message_unless_a_part_failed(smsc, connect):
    listener = Recorder()
    sender = connect(listener=listener)
    sent = sender.send(outgoing("x" * 400))
    first, second, last = (p.message_id for p in smsc.submits)
    assert sent.external_id == last
    smsc.deliver_receipt(first, "DELIVRD")
    assert listener.receipts == []  # only the last part's receipt is recorded
    smsc.deliver_receipt(last, "DELIVRD")
    assert listener.receipts == [(last, "DELIVRD")]
    smsc.deliver_receipt(second, "UNDELIV")
    assert listener.receipts[-1] == (last, "UNDELIV")  # a lost part means the text never arrived whole
    smsc.deliver_receipt(last, "DELIVRD")
    assert listener.receipts == [(last, "DELIVRD"), (last, "UNDELIV")]  # a failure is not overwritten


def test_a_receipt_for_a_part_that_arrives_before_the_message_is_sent_is_kept(smsc, connect):
    listener = Recorder()
    sender = connect(listener=listener)
    original = smsc._handle

    def receipt_right_away(connection, pdu):  # the SMSC reports part 1 before it answers part 2
        result = original(connection, pdu)
        if pdu.command == "submit_sm" and len(smsc.submits) == 1:
            threading.Thread(target=smsc.deliver_receipt, args=(smsc.submits[0].message_id, "REJECTD")).start()
            time.sleep(0.2)
        return result

    smsc._handle = receipt_right_away
    sent = sender.send(outgoing("y" * 200))
    assert smsc.wait_until(lambda: listener.receipts == [(sent.external_id, "REJECTD")], timeout=5)


def test_inbound_stop_opts_the_line_out_and_queues_one_confirmation(db, smsc, router):
    make_line(db, now=clock.now())
    assert smsc.deliver_mo("33612345678", "STOP") == 0  # answered once recorded
    with db.transaction(write=False) as session:
        line = session.scalars(select(Line).where(Line.msisdn == MSISDN)).one()
        [inbound] = session.scalars(select(InboundMessage))
    assert line.reminders_opted_out_at is not None
    assert (inbound.sender, inbound.text, inbound.outcome) == (MSISDN, "STOP", "opted out")
    [confirmation] = rows(db, "reminders.stopped")
    assert (confirmation.channel, confirmation.recipient, confirmation.status) == ("sms", MSISDN, "pending")
    assert deliver_due(db, router) == 1
    assert rows(db, "reminders.stopped")[0].status == "sent"
    assert smsc.deliver_mo("33612345678", "STOP") == 0
    assert len(rows(db, "reminders.stopped")) == 1  # confirmed once


def test_a_chinese_stop_in_ucs2_opts_out_too(db, smsc, router):
    make_line(db, language="zh_CN", now=clock.now())
    assert smsc.deliver_mo("33612345678", "退订") == 0
    with db.transaction(write=False) as session:
        assert session.scalars(select(Line.reminders_opted_out_at)).one() is not None
    assert len(rows(db, "reminders.stopped")) == 1


def test_a_concatenated_inbound_message_is_reassembled(smsc, connect):
    listener = Recorder()
    connect(listener=listener)
    text = "请问我的号码什么时候到期？" * 6
    data = text.encode("utf-16-be")
    for seq, chunk in ((2, data[134:]), (1, data[:134])):
        udh = bytes([5, 0, 3, 7, 2, seq])
        smsc.deliver_mo("8613800138000", "", esm_class=0x40, data_coding=8, short_message=udh + chunk)
    assert listener.got == [("+8613800138000", text)]


def test_a_receipt_that_cannot_be_recorded_is_refused_so_the_smsc_delivers_it_again(smsc, connect):
    class Flaky(Recorder):
        def receipt(self, external_id: str, status: str) -> None:
            if not self.receipts and not getattr(self, "failed", False):
                self.failed = True
                raise RuntimeError("database unavailable")
            super().receipt(external_id, status)

    listener = Flaky()
    sent = connect(listener=listener).send(outgoing("hi"))
    assert smsc.deliver_receipt(sent.external_id, "UNDELIV") == 0x64  # ESME_RX_T_APPN: try again later
    assert smsc.deliver_receipt(sent.external_id, "UNDELIV") == 0
    assert listener.receipts == [(sent.external_id, "UNDELIV")]


def test_an_inbound_message_is_named_by_the_smscs_id_or_else_by_its_content(smsc, connect):
    listener = Recorder()
    connect(listener=listener)
    smsc.deliver_mo("33612345678", "SOLDE", message_id="MO-77")
    smsc.deliver_mo("33612345678", "SOLDE")  # no receipted_message_id TLV
    smsc.deliver_mo("33612345678", "SOLDE")
    smsc.deliver_mo("33612345679", "SOLDE")
    smsc.deliver_mo("33612345678", "SOLDE ")
    assert listener.got == [("+33612345678", "SOLDE")] * 3 + [("+33612345679", "SOLDE"), ("+33612345678", "SOLDE ")]
    tlv, digest, again, other_sender, other_text = listener.ids
    assert tlv == "MO-77"
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 40
    assert again == digest and len({digest, other_sender, other_text}) == 3


def test_packed_gsm7_inbound_is_unpacked(smsc, connect):
    listener = Recorder()
    connect(listener=listener, gsm7="packed")
    smsc.deliver_mo("33612345678", "", short_message=pack_septets(gsm7_codes("Stop [1]")))
    assert listener.got == [("+33612345678", "Stop [1]")]


def test_throttling_is_retried_later_by_the_outbox(db, smsc, router, monkeypatch):
    freeze_clock(monkeypatch, clock.now())  # the retry's instant exactly, however slow the machine
    make_line(db, now=clock.now())
    top_up(db, now=clock.now())
    smsc.answer_next_submit(0x58)
    deliver_due(db, router)
    [row] = rows(db)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "TemporaryFailure: SMSC answered 0x00000058 (throttled)"
    assert row.next_attempt_at - clock.now() == timedelta(seconds=5)
    assert deliver_due(db, router) == 0  # not yet
    make_due(db)
    assert deliver_due(db, router) == 1
    [row] = rows(db)
    assert (row.status, row.attempts, row.external_id) == ("sent", 2, smsc.submits[-1].message_id)


def test_an_invalid_destination_fails_the_message_for_good(db, smsc, router):
    make_line(db, now=clock.now())
    top_up(db, now=clock.now())
    smsc.answer_next_submit(0x0B)
    deliver_due(db, router)
    [row] = rows(db)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "invalid destination address" in row.last_error
    make_due(db)
    assert deliver_due(db, router) == 0
    assert len(smsc.submits) == 1


def test_a_dropped_connection_is_rebound_and_the_message_delivered_on_retry(db, smsc, router):
    make_line(db, now=clock.now())
    top_up(db, now=clock.now())
    smsc.drop_next_submit()
    deliver_due(db, router)
    [row] = rows(db)
    assert (row.status, row.attempts) == ("pending", 1) and row.last_error.startswith("TemporaryFailure: SMPP link")
    assert smsc.wait_until(lambda: smsc.binds == 2 and router.by_channel["sms"].bound)
    make_due(db)
    assert deliver_due(db, router) == 1
    [row] = rows(db)
    assert (row.status, row.external_id) == ("sent", smsc.submits[-1].message_id)
    assert len(smsc.submits) == 2 and smsc.submits[0].message_id is None


def test_email_and_webhooks_keep_their_senders(db, smsc, router):
    assert isinstance(router.by_channel["sms"], SmppSender)
    assert isinstance(router.default, FileSender)
    with pytest.raises(ValueError, match="SIMKEEP_SMPP_URL"):
        make_sender(Settings(sms_sender="smpp"), db)


# --- the link ------------------------------------------------------------------------------------------------

def test_sending_while_disconnected_is_temporary_and_binds_back_off(smsc, connect):
    sender = connect(reconnect=0.05, connect_timeout=0.5)
    smsc.refuse_binds = True
    smsc.drop()
    assert smsc.wait_until(lambda: not sender.bound)
    with pytest.raises(TemporaryFailure, match="SMPP link"):
        sender.send(outgoing("hi"))
    assert smsc.wait_until(lambda: len(smsc.commands("bind_transceiver")) >= 5, timeout=10)
    starts = [p.at for p in smsc.commands("bind_transceiver")[1:5]]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(later > earlier for earlier, later in itertools.pairwise(gaps))  # exponential backoff
    smsc.refuse_binds = False
    assert sender.wait_bound(10)
    assert sender.send(outgoing("hi")).external_id == smsc.submits[-1].message_id


def test_a_wrong_password_never_binds(smsc, connect):
    sender = connect(password="wrong", wait=False, connect_timeout=1)
    assert smsc.wait_until(lambda: smsc.commands("bind_transceiver"))
    with pytest.raises(TemporaryFailure, match="bind"):
        sender.send(outgoing("hi"))
    assert smsc.binds == 0


def test_enquire_link_keeps_the_link_alive_both_ways(smsc, connect):
    sender = connect(enquire_link=0.1)
    assert smsc.wait_until(lambda: len(smsc.commands("enquire_link")) >= 3)
    assert smsc.enquire_link() == 0  # the SMSC's own enquire_link is answered
    assert smsc.commands("enquire_link_resp")
    assert sender.bound and smsc.binds == 1


def test_a_silent_smsc_is_detected_by_enquire_link_and_rebound(smsc, connect):
    sender = connect(enquire_link=0.1, timeout=0.3, reconnect=0.05)
    smsc.silent = True
    assert smsc.wait_until(lambda: not sender.bound, timeout=5)
    smsc.silent = False
    assert sender.wait_bound(5) and smsc.binds == 2


def test_the_send_rate_is_respected(smsc, connect):
    sender = connect(rate_per_second=5)
    started = time.monotonic()
    for n in range(12):
        sender.send(outgoing(f"message {n}"))
    waited = time.monotonic() - started
    assert [p.user_data for p in smsc.submits] == [f"message {n}".encode() for n in range(12)]
    # 12 submits at 5 a second: the sender waited out at least 11 intervals of 0.2 s before its last submit. A lower
    # bound on its own clock, which a busy machine can only lengthen; when the SMSC reads them depends on the
    # machine (a loaded one delivered several at once), and the exact spacing is checked on a fake clock below.
    assert waited >= 11 * 0.2 - 0.01


def test_the_rate_limiter_spaces_submits_on_a_monotonic_clock():
    now = [100.0]
    limiter = RateLimiter(5, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    times = []
    for _ in range(11):
        limiter.acquire()
        times.append(round(now[0] - 100.0, 6))
    assert times == [round(0.2 * n, 6) for n in range(11)]
    burst = RateLimiter(5, burst=3, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    now[0] = 200.0
    starts = []
    for _ in range(5):
        burst.acquire()
        starts.append(round(now[0] - 200.0, 6))
    assert starts == [0.0, 0.0, 0.0, 0.2, 0.4]
    assert RateLimiter(0, clock=lambda: 0.0, sleep=lambda s: pytest.fail("slept")).acquire() is None


def test_close_unbinds(smsc, connect):
    sender = connect()
    sender.close()
    assert smsc.commands("unbind")
    assert not sender.bound
    with pytest.raises(TemporaryFailure, match="closed"):
        sender.send(outgoing("hi"))


@pytest.mark.parametrize("url", [
    "http://simkeep:secret@127.0.0.1:2775",  # not smpp
    "smpp://simkeep:secret@127.0.0.1",  # no port
    "smpp://simkeep:toolongpassword@127.0.0.1:2775",  # SMPP 3.4: 8 characters
    "smpp://simkeep:secret@127.0.0.1:2775?source=simkeep-reminders",  # alphanumeric: 11 characters
    "smpp://simkeep:secret@127.0.0.1:2775?sender=simkeep",  # a misspelt option is not ignored
])
def test_a_bad_smpp_url_is_refused_before_connecting(url):
    with pytest.raises(ValueError):
        SmppSender(url)
