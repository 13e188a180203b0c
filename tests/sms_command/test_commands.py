"""Each keyword in each language through the real SMPP link, with the exact reply; a redelivered deliver_sm acts
once; RECHARGE credits once even when raced; five wrong PINs lock; floods are cut; a PIN is never kept."""

from __future__ import annotations

import itertools
import logging
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from simkeep.history.service import history
from simkeep.line.models import Line
from simkeep.notification import templates
from simkeep.notification.models import InboundMessage, OutboxMessage
from simkeep.notification.senders.smpp.codec import decode_user_data
from simkeep.notification.service import CONTENT_ID_SPAN, SMSC_ID_SPAN, conceal, record_inbound
from simkeep.notification.tasks import deliver_due
from simkeep.sms_command.service import BALANCE, HELP, LANGUAGE, RECHARGE, Command, parse_command
from simkeep.topup.models import TopUp
from simkeep.voucher import pins
from simkeep.voucher.models import VoucherFailure
from simkeep.worker import inbound_commands
from tests.conftest import T0
from tests.factories.snapshot import snapshot
from tests.factories.vouchers import make_reseller, sold_cards
from tests.voucher.test_ratelimit import redis_up
from tests.web import balances, ledger_ok, race

MO = "33612345678"  # the sender as the SMSC writes it
_ids = itertools.count(1)

BALANCE_TEXTS = {
    "en": "+33612345678: balance €10.00, valid until April 14, 2027. Recharge by October 11, 2027 to keep your number.",
    "fr": "+33612345678\u00a0: solde 10,00\u00a0€, valable jusqu'au 14 avril 2027. Rechargez avant la fin du 11 octobre 2027 "
          "pour garder votre numéro.",
    "zh_CN": "号码+33612345678：余额€10.00，有效期至2027年4月14日。请在2027年10月11日（含）之前充值以保留号码。",
}


@pytest.fixture
def send(smsc, clock):
    def deliver(text: str, *, message_id: str | None = "auto", source: str = MO) -> int:
        """A deliver_sm from the subscriber a second after the last, with a fresh SMSC message id unless one is
        given (None: no id TLV); returns the deliver_sm_resp status."""
        clock.advance(seconds=1)
        return smsc.deliver_mo(source, text, message_id=f"MO{next(_ids):06d}" if message_id == "auto" else message_id)

    return deliver


def replies(db, topic: str | None = None) -> list[OutboxMessage]:
    with db.transaction(write=False) as session:
        query = select(OutboxMessage).where(OutboxMessage.topic.like("sms.%") | (OutboxMessage.topic == topic))
        return list(session.scalars(query.order_by(OutboxMessage.created_at, OutboxMessage.dedup_key)))


def texts(db) -> list[tuple[str, str]]:
    """(language, rendered text) of every reply to a command, in order."""
    return [(m.language, templates.render(m.topic, m.language, m.payload)) for m in replies(db)]


def inbound(db) -> list[InboundMessage]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.received_at)))


def count(db, model) -> int:
    with db.transaction(write=False) as session:
        return len(list(session.scalars(select(model))))


# -- parsing -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "command"), [
    ("SOLDE", Command(BALANCE, "fr")), ("  solde ", Command(BALANCE, "fr")), ("Ｓｏｌｄｅ", Command(BALANCE, "fr")),
    ("balance.", Command(BALANCE, "en")), ("余额", Command(BALANCE, "zh_CN")), ("余额？", Command(BALANCE, "zh_CN")),
    ("查询", Command(BALANCE, "zh_CN")), ("solde?", Command(BALANCE, "fr")),
    ("RECHARGE 1234 5678", Command(RECHARGE, None, "1234 5678")), ("recharger 12", Command(RECHARGE, "fr", "12")),
    ("充值１２３４", Command(RECHARGE, "zh_CN", "1234")), ("充值 1234", Command(RECHARGE, "zh_CN", "1234")),
    ("RECHARGE12", Command(RECHARGE, None, "12")),
    ("aide", Command(HELP, "fr")), ("HELP", Command(HELP, "en")), ("帮助", Command(HELP, "zh_CN")),
    ("?", Command(HELP, None)), ("？", Command(HELP, None)),
    ("lang fr", Command(LANGUAGE, None, "FR")), ("Langue  EN", Command(LANGUAGE, "fr", "EN")),
    ("语言中文", Command(LANGUAGE, "zh_CN", "中文")), ("LÀNG zh", Command(LANGUAGE, None, "ZH")),
])
def test_keywords_are_read_whatever_the_case_accents_width_and_spacing(text, command):
    assert parse_command(text) == command


@pytest.mark.parametrize("text", ["bonjour", "SOLDES", "RECHARGEZ 12", "LANGUES FR", "", "12345"])
def test_other_texts_are_no_command(text):
    assert parse_command(text) is None


def test_digits_are_masked_when_stored():
    assert conceal("RECHARGE 1234 5678-9012 3456") == "RECHARGE ****"
    assert conceal("充值１２３４５") == "充值****"
    assert conceal("SOLDE") == "SOLDE"


# -- each keyword, each language ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "language"), [("SOLDE", "fr"), ("BALANCE", "en"), ("余额", "zh_CN"),
                                                 ("solde", "fr"), ("查询", "zh_CN")])
def test_balance_in_the_keywords_language(db, smsc, router, send, line, text, language):
    assert send(text) == 0
    assert texts(db) == [(language, BALANCE_TEXTS[language])]
    [reply] = replies(db)
    assert (reply.channel, reply.recipient, reply.status) == ("sms", "+33612345678", "pending")
    [row] = inbound(db)
    assert (row.sender, row.text, row.outcome, row.line_id) == ("+33612345678", text, "balance", reply.line_id)


def test_yu_e_comes_back_in_chinese_through_the_smsc(db, smsc, router, send, line):
    """The whole round trip: 余额 in as UCS-2, the balance out as UCS-2 to the sender."""
    assert send("余额") == 0
    assert deliver_due(db, router) == 2  # with the French confirmation of the top-up at T0
    [submit] = [s for s in smsc.submits if s.data_coding == 8]
    assert submit.destination_addr == MO
    assert decode_user_data(8, submit.user_data) == BALANCE_TEXTS["zh_CN"]


HELP_TEXTS = {
    "en": "simkeep: BALANCE for your balance and dates, RECHARGE and the card's code to renew, LANG FR, EN or ZH for "
          "the language, STOP to end reminders.",
    "fr": "simkeep\u00a0: SOLDE pour votre solde et vos dates, RECHARGE et le code de la carte pour recharger, LANGUE "
          "FR, EN ou ZH, STOP contre les rappels.",
    "zh_CN": "simkeep：回复“余额”查询余额及有效期，“充值”加卡密续费，“语言FR”“语言EN”或“语言ZH”切换语言，“退订”停止提醒。",
}


@pytest.mark.parametrize(("text", "language"), [("AIDE", "fr"), ("HELP", "en"), ("帮助", "zh_CN"),
                                                 ("?", "fr"), ("what is this", "fr"), ("LANG XX", "fr"),
                                                 ("RECHARGE", "fr"), ("充值", "zh_CN")])
def test_help_and_unknown_text_get_the_command_list(db, smsc, router, send, line, text, language):
    """The keyword's language; "?" and text that is no command: the line's (French here)."""
    assert send(text) == 0
    assert texts(db) == [(language, HELP_TEXTS[language])]
    assert [r.outcome for r in inbound(db)] == ["help"]


@pytest.mark.parametrize(("text", "language", "reply"), [
    ("LANG EN", "en", "Done: simkeep will write to you in English from now on."),
    ("LANGUE FR", "fr", "C'est noté\u00a0: simkeep vous écrira désormais dans cette langue."),
    ("语言 中文", "zh_CN", "好的，simkeep今后将用中文给您发送消息。"),
    ("lang zh", "zh_CN", "好的，simkeep今后将用中文给您发送消息。"),
])
def test_lang_sets_the_lines_language_and_confirms_in_it(db, smsc, router, send, line, text, language, reply):
    assert send(text) == 0
    assert texts(db) == [(language, reply)]
    with db.transaction(write=False) as session:
        assert session.scalars(select(Line.language)).one() == language


def test_after_lang_zh_a_shared_keyword_answers_in_chinese(db, smsc, router, send, line):
    send("LANG ZH")
    send("?")
    assert texts(db)[-1] == ("zh_CN", HELP_TEXTS["zh_CN"])


def test_stop_and_stop_auto_keep_working(db, smsc, router, send, line):
    assert send("STOP") == 0
    assert send("STOP AUTO") == 0
    assert [r.outcome for r in inbound(db)] == ["opted out", "auto-renew was off"]
    assert [m.topic for m in replies(db, "reminders.stopped")] == ["reminders.stopped"]


def test_a_number_without_a_line_is_told_once_a_day_and_nothing_about_any_line(db, smsc, router, send, line):
    for text in ("SOLDE", "RECHARGE 1234", "BALANCE"):
        assert send(text, source="33698765432") == 0
    assert texts(db) == [("fr", "Ce numéro n'est pas une ligne suivie par simkeep. Pour consulter ou recharger un "
                                "autre numéro\u00a0: http://127.0.0.1:8000")]
    assert [r.recipient for r in replies(db)] == ["+33698765432"]
    assert [(r.outcome, r.line_id) for r in inbound(db)] == [("no line", None)] * 3


def test_an_alphanumeric_sender_gets_no_answer(db, smsc, router, send, line):
    assert send("SOLDE", source="Orange") == 0
    assert replies(db) == []
    assert [(r.sender, r.outcome) for r in inbound(db)] == [("Orange", "not a phone number")]


# -- RECHARGE ----------------------------------------------------------------------------------------------------

@pytest.fixture
def cards(db, line):
    make_reseller(db, now=T0)
    return sold_cards(db, quantity=3, now=T0)


def test_recharge_redeems_the_card_on_the_senders_line_and_confirms_once(db, smsc, router, send, cards, clock):
    serial, pin = cards[0]
    before = balances(db)
    assert send(f"RECHARGE {pin[:5]} {pin[5:]}", message_id="MO-card-1") == 0
    assert balances(db) == (before[0] + 1000, before[1])
    with db.transaction(write=False) as session:
        [topup] = session.scalars(select(TopUp).where(TopUp.channel == "voucher"))
    assert (topup.principal, topup.msisdn) == ("sms", "+33612345678")
    assert topup.idempotency_key == f"MO-card-1@{int(clock().timestamp() // SMSC_ID_SPAN.total_seconds())}"
    assert replies(db) == []  # the answer is the top-up's own confirmation, as on every channel
    _first, confirmation = replies(db, "topup.completed")  # the top-up at T0, then this one
    assert confirmation.payload["receipt_url"].startswith("http://127.0.0.1:8000/receipts/")
    assert confirmation.payload["voucher_serial"] == serial
    [row] = inbound(db)
    assert (row.text, row.outcome) == ("RECHARGE ****", f"card {serial} redeemed")
    with db.transaction(write=False) as session:
        items, _cursor = history(session, session.scalars(select(Line)).one(), before=None, limit=50)
    assert [(i["text"], i["outcome"]) for i in items if i["type"] == "sms_command"] == [
        ("RECHARGE ****", f"card {serial} redeemed")]
    ledger_ok(db)


def test_a_redelivered_recharge_acts_once_and_is_still_answered_ok(db, smsc, router, send, cards):
    _serial, pin = cards[0]
    before = balances(db)
    assert send(f"充值{pin}", message_id="MO-again") == 0
    after_first = snapshot(db)
    assert send(f"充值{pin}", message_id="MO-again") == 0  # the SMSC did not get our deliver_sm_resp
    assert snapshot(db) == after_first
    assert balances(db) == (before[0] + 1000, before[1])
    assert [r.outcome for r in inbound(db)] == [f"card {cards[0][0]} redeemed"]


def test_without_an_id_tlv_a_redelivery_is_recognised_by_its_content(db, smsc, router, send, line):
    assert send("SOLDE", message_id=None) == 0
    assert send("SOLDE", message_id=None) == 0
    assert len(replies(db)) == 1
    [row] = inbound(db)
    assert row.external_id.startswith("sha256:")


def test_an_smsc_id_names_one_message_for_a_day_then_may_be_reused(db, smsc, router, send, line, clock):
    assert send("SOLDE", message_id="MO-reused") == 0
    clock.advance(hours=5)  # redelivered after a rebind, hours later
    assert send("SOLDE", message_id="MO-reused") == 0
    assert len(replies(db)) == 1
    clock.advance(days=3)  # the SMSC's counter wrapped: another message
    assert send("BALANCE", message_id="MO-reused") == 0
    assert [r.outcome for r in inbound(db)] == ["balance", "balance"]
    assert [r.language for r in replies(db)] == ["fr", "en"]


def test_a_content_digest_is_one_message_across_a_window_edge_and_a_new_one_later(db, smsc, router, send, line,
                                                                                   clock):
    window = int(CONTENT_ID_SPAN.total_seconds())
    clock.at = datetime.fromtimestamp((int(clock.at.timestamp()) // window + 1) * window - 1, UTC)  # 1 s before
    assert send("SOLDE", message_id=None) == 0
    clock.advance(seconds=90)  # redelivered after the edge
    assert send("SOLDE", message_id=None) == 0
    assert len(replies(db)) == 1
    clock.advance(minutes=25)  # the subscriber asks again later
    assert send("SOLDE", message_id=None) == 0
    assert [r.outcome for r in inbound(db)] == ["balance", "balance"]
    assert len(replies(db)) == 2


def test_two_racing_deliveries_of_one_recharge_credit_once(db, smsc, router, cards):
    """Two binds, the same deliver_sm on both at once (an SMSC failing over): one redemption, one answer."""
    _serial, pin = cards[0]
    before = balances(db)
    second = make_second_link(smsc, db, router)
    try:
        statuses = race(2, lambda i: smsc.deliver_mo(MO, f"RECHARGE {pin}", message_id="MO-race",
                                                     connection=i))
    finally:
        second.close()
    assert statuses == [0, 0]
    assert balances(db) == (before[0] + 1000, before[1])
    assert count(db, TopUp) == 2  # the one at T0 and this one
    assert [r.outcome for r in inbound(db)] == [f"card {cards[0][0]} redeemed"]


def make_second_link(smsc, db, router):
    from simkeep.notification.senders.smpp import SmppSender

    listener = router.by_channel["sms"].listener
    sender = SmppSender(smsc.url(reconnect=0.05), listener=listener)
    assert sender.wait_bound(5)
    assert smsc.wait_until(lambda: smsc.bound == 2)
    return sender


CARD_INVALID = "Cette carte de recharge n'est pas valable. Vérifiez le code et renvoyez RECHARGE et le code\u202f; en cas " \
               "de nouvel échec, voyez le vendeur."


def test_five_wrong_pins_lock_the_number_and_say_how_to_get_help(db, smsc, router, send, cards, caplog):
    caplog.set_level(logging.DEBUG)
    before = snapshot(db)
    wrong = [pins.new_pin() for _ in range(5)]  # well-formed PINs of no card: each counts
    for pin in [*wrong, cards[1][1]]:
        assert send(f"RECHARGE {pin}") == 0
    said = [text for _language, text in texts(db)]
    assert said[:4] == [CARD_INVALID] * 4
    locked = ("Trop de codes erronés\u00a0: la recharge par carte est bloquée pendant 24 heures. Autres moyens de "
              "recharger\u00a0: http://127.0.0.1:8000/r/")
    assert [text[:len(locked)] for text in said[4:]] == [locked, locked]
    after = snapshot(db)
    assert after["balances"] == before["balances"]
    assert count(db, TopUp) == 1  # only the one made at T0
    with db.transaction(write=False) as session:
        assert len(list(session.scalars(select(VoucherFailure)))) == 5
    # the good card (the sixth try) was refused by the lock and stays usable
    assert [r.outcome for r in inbound(db)] == ["card not valid: unknown"] * 5 + ["card locked"]
    for pin in [p for _s, p in cards[:2]] + wrong:
        assert_nowhere(db, caplog, pin)


def assert_nowhere(db, caplog, pin: str) -> None:
    """No PIN in the inbound log, the outbox (payloads, rendered texts) or the logs."""
    for row in inbound(db):
        assert pin not in row.text and pin[:6] not in row.text
    for message in replies(db, "topup.completed"):
        assert pin not in str(message.payload) and pin not in templates.render(message.topic, "en", message.payload)
    assert pin not in caplog.text


def test_a_recharge_pin_is_never_kept(db, smsc, router, send, cards, caplog):
    caplog.set_level(logging.DEBUG)
    pin = cards[2][1]
    send(f"RECHARGE {pin}")
    send(f"recharge {pin[:4]} {pin[4:8]} {pin[8:]}")
    send(pin)  # the PIN alone, no keyword: help, and still masked
    assert [r.text for r in inbound(db)] == ["RECHARGE ****", "recharge ****", "****"]
    assert_nowhere(db, caplog, pin)


def test_a_recharge_that_fails_midway_is_refused_for_a_redelivery_and_logs_no_pin(db, smsc, router, send, cards,
                                                                                  monkeypatch, capsys):
    """The database fails after the card was taken: nothing is kept, the SMSC is told to try again (and the log
    names the error's class and place, not the traceback whose local variables hold the PIN)."""
    from simkeep.receipt import service as receipts

    _serial, pin = cards[0]
    before, credit = snapshot(db), balances(db)
    real = receipts.issue

    def failing(*args, **kwargs):
        raise OSError("connection lost")

    monkeypatch.setattr(receipts, "issue", failing)
    assert send(f"RECHARGE {pin}", message_id="MO-fails") == 0x64  # ESME_RX_T_APPN
    assert snapshot(db) == before
    monkeypatch.setattr(receipts, "issue", real)
    assert send(f"RECHARGE {pin}", message_id="MO-fails") == 0  # delivered again: acts now, once
    assert balances(db) == (credit[0] + 1000, credit[1])
    assert [r.outcome for r in inbound(db)] == [f"card {cards[0][0]} redeemed"]
    logged = capsys.readouterr()
    assert "OSError" in logged.out + logged.err and pin not in logged.out + logged.err


# -- flood -------------------------------------------------------------------------------------------------------

def test_a_flood_is_answered_ten_times_then_told_once_then_silence(db, smsc, router, send, line):
    for _ in range(14):
        assert send("SOLDE") == 0
    said = texts(db)
    assert said[:10] == [("fr", BALANCE_TEXTS["fr"])] * 10
    assert said[10:] == [("fr", "Trop de messages depuis votre numéro\u00a0: simkeep répondra de nouveau dans quelques "
                                "minutes.")]
    assert [r.outcome for r in inbound(db)][10:] == ["rate limited, told"] + ["rate limited"] * 3
    assert send("STOP") == 0  # STOP is never limited
    assert inbound(db)[-1].outcome == "opted out"


@pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_two_workers_share_the_flood_limit_through_redis(db, settings, line, clock):
    """Two workers (two SmsCommands, as two processes build them) count one sender's commands together."""
    import redis

    prefix = f"simkeep-test-{uuid.uuid4().hex}"
    shared = settings.model_copy(update={"rate_limit_storage": "redis://127.0.0.1:6379", "rate_limit_prefix": prefix,
                                         "sms_commands_per_sender": "3 per 10 minutes"})
    workers = [inbound_commands(shared), inbound_commands(shared)]
    try:
        outcomes = []
        for i in range(6):
            clock.advance(seconds=1)
            with db.transaction() as session:
                outcomes.append(record_inbound(session, sender="+33612345678", text="SOLDE", now=clock(),
                                               message_id=f"MO-redis-{i}", commands=workers[i % 2]))
        assert outcomes == ["balance"] * 3 + ["rate limited, told", "rate limited", "rate limited"]
        assert len(replies(db)) == 4
    finally:
        client = redis.Redis()
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


@pytest.mark.parametrize("preview", [p for p in templates.previews("https://simkeep.example")
                                     if p.topic in templates.SMS_COMMAND_TOPICS],
                         ids=lambda p: f"{p.topic}-{p.language}")
def test_every_answer_fits_one_sms(preview):
    """An answer costs the operator one SMS, in every language (GSM-7 in French and English, UCS-2 in Chinese), but
    the lockout in Chinese: its link takes 60 of the 70 UCS-2 units of a segment."""
    link_in_ucs2 = (preview.topic, preview.language) == ("sms.card_locked", "zh_CN")
    assert preview.sms.segments == (2 if link_in_ucs2 else 1), (preview.sms.encoding, preview.sms.units)
