"""The SMTP sender against a real SMTP server (aiosmtpd) on 127.0.0.1: what arrives, and how replies map to
retry or give up."""

from __future__ import annotations

import email
import socket
import ssl
import uuid
from collections.abc import Iterator
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select

from simkeep.core import clock
from simkeep.notification import outbox, service, templates
from simkeep.notification.models import OutboxMessage
from simkeep.notification.senders.base import Outgoing, PermanentFailure, Sent, TemporaryFailure
from simkeep.notification.senders.smtp import SmtpSender, message_id, to_html
from simkeep.notification.tasks import deliver_due

MAIL_FROM = "simkeep <no-reply@simkeep.test>"
RENEW_URL = "https://simkeep.test/recharge?msisdn=%2B33612345678"
REMINDER = {"msisdn": "+33612345678", "days_before": 3, "number_loss_at": "2027-03-12T23:00:00+00:00",
            "timezone": "Europe/Paris", "state": "grace", "renew_url": RENEW_URL,
            "cheapest_offer": {"id": "fr-orange-mobicarte-5", "amount": {"amount_minor": 500, "currency": "EUR"},
                               "validity_days": 7}}
EXPECTED = {
    "en": ("Recharge by March 12, 2027 to keep your number +33612345678",
           "Your number +33612345678 will be lost for good at the end of March 12, 2027 (in 3 days) unless you "
           "recharge. For now the line can only receive calls. The smallest recharge that keeps it: €5.00 for 7 days. "
           f"Recharge: {RENEW_URL}"),
    "fr": ("Rechargez au plus tard le 12 mars 2027 pour garder votre numéro +33612345678",
           "Sans recharge, votre numéro +33612345678 sera définitivement perdu à la fin du 12 mars 2027 (dans 3 jours). "
           "Pour l'instant, appels entrants uniquement. Recharge minimale pour le garder\u00a0: 5,00\u00a0€ pour 7 jours. "
           f"Recharger\u00a0: {RENEW_URL}"),
    "zh_CN": ("请在2027年3月12日（含）之前充值以保留号码+33612345678",
              "如不充值，号码+33612345678将在2027年3月12日（3天后）结束后被永久回收。目前仅可接听。"
              f"保号最低充值€5.00（7天）。充值：{RENEW_URL}"),
}


class Recorder:
    """An SMTP handler that keeps what it accepted, or answers with the reply it was told to."""

    def __init__(self) -> None:
        self.envelopes = []
        self.sessions = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        self.sessions.append(session)
        return "250 2.0.0 Ok: queued as 7F3A21"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def smtp_server(recorder: Recorder) -> Iterator[int]:
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port
    controller.stop()


@pytest.fixture(scope="module")
def certificate() -> trustme.CA:
    """A throwaway CA whose certificate for 127.0.0.1 the test server presents."""
    return trustme.CA()


def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def outgoing(language: str = "en", topic: str = "reminder", payload: dict | None = None,
             recipient: str = "li.wei@example.com") -> Outgoing:
    payload = REMINDER if payload is None else payload
    return Outgoing(id=uuid.uuid4(), topic=topic, channel="email", recipient=recipient, language=language,
                    text=templates.render(topic, language, payload), payload=payload, attempt=1)


def parts(message: email.message.EmailMessage) -> dict[str, str]:
    """Each part's text, with the wire's CRLF line ends read as a mail client shows them."""
    return {part.get_content_type(): part.get_content().replace("\r\n", "\n") for part in message.iter_parts()}


@pytest.mark.parametrize("language", ["zh_CN", "fr", "en"])
def test_reminder_arrives_with_text_and_html_parts_subject_and_message_id(smtp_server, recorder, language):
    message = outgoing(language)
    sent = SmtpSender(f"smtp://127.0.0.1:{smtp_server}", MAIL_FROM).send(message)

    assert sent == Sent(external_id=f"<{message.id}@simkeep>", detail="250 2.0.0 Ok: queued as 7F3A21")
    [envelope] = recorder.envelopes
    assert envelope.mail_from == "no-reply@simkeep.test" and envelope.rcpt_tos == ["li.wei@example.com"]
    received = email.message_from_bytes(envelope.content, policy=default_policy)
    subject, text = EXPECTED[language]
    assert message.text == text
    assert received["Subject"] == subject
    assert received["From"] == MAIL_FROM and received["To"] == "li.wei@example.com"
    assert received["Message-ID"] == f"<{message.id}@simkeep>" == message_id(message)
    assert abs((parsedate_to_datetime(received["Date"]) - clock.now()).total_seconds()) < 60
    assert received["Content-Language"] == language.replace("_", "-")
    assert received.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in received.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in received.iter_parts())
    body = parts(received)
    assert body["text/plain"] == text + "\n"
    html = body["text/html"]
    assert f'<a href="{RENEW_URL}">{RENEW_URL}</a>' in html
    assert f'lang="{language.replace("_", "-")}"' in html
    before_link = text.split("https://")[0].replace("'", "&#x27;")
    assert before_link in html


def test_subject_and_body_are_plain_ascii_on_the_wire_even_in_chinese(smtp_server, recorder):
    SmtpSender(f"smtp://127.0.0.1:{smtp_server}", MAIL_FROM).send(outgoing("zh_CN"))
    raw = recorder.envelopes[0].content
    assert raw.isascii()  # RFC 2047 subject, base64 or quoted-printable bodies: any relay passes it unharmed
    assert b"Subject: =?utf-8?" in raw


def test_delivered_by_the_worker_the_message_id_and_server_reply_are_recorded(db, smtp_server, recorder):
    now = clock.now()
    payload = {"msisdn": "+33612345678", "amount": {"amount_minor": 1000, "currency": "EUR"}, "method": "card",
               "failure": "card_declined"}
    with db.transaction() as session:
        outbox.enqueue(session, [outbox.Message(dedup_key="t:payment.failed", topic="payment.failed",
                                                channel=outbox.EMAIL, recipient="li.wei@example.com", language="fr",
                                                payload=payload)], now=now)
    assert deliver_due(db, SmtpSender(f"smtp://127.0.0.1:{smtp_server}", MAIL_FROM)) == 1

    with db.transaction(write=False) as session:
        row = session.scalars(select(OutboxMessage)).one()
        log = service.delivery_log(session, row.id)
    assert (row.status, row.external_id) == ("sent", f"<{row.id}@simkeep>")
    assert [(a.outcome, a.detail) for a in log] == [("sent", "250 2.0.0 Ok: queued as 7F3A21")]
    received = email.message_from_bytes(recorder.envelopes[0].content, policy=default_policy)
    assert received["Message-ID"] == row.external_id
    assert received["Subject"] == "Votre paiement pour le +33612345678 n'a pas abouti"
    assert parts(received)["text/plain"] == (
        "Votre paiement de 10,00\u00a0€ par carte bancaire pour le +33612345678 n'a pas abouti (carte refusée). "
        "Rien n'a été débité et la ligne n'a pas été rechargée.\n")


@pytest.mark.parametrize(("where", "reply", "failure"), [
    ("data", "451 4.3.0 Try again later", TemporaryFailure),
    ("data", "550 5.7.1 Message rejected as spam", PermanentFailure),
    ("rcpt", "452 4.2.2 Mailbox full", TemporaryFailure),
    ("rcpt", "550 5.1.1 No such user", PermanentFailure),
])
def test_replies_map_to_temporary_or_permanent_failures(smtp_server, recorder, where, reply, failure):
    setattr(recorder, f"{where}_reply", reply)
    with pytest.raises(failure) as raised:
        SmtpSender(f"smtp://127.0.0.1:{smtp_server}", MAIL_FROM).send(outgoing())
    assert reply.split(" ", 1)[0] in str(raised.value) and reply.split(" ", 2)[2] in str(raised.value)
    assert type(raised.value) is failure
    assert recorder.envelopes == []


def test_server_down_is_a_temporary_failure():
    port = free_port()  # nobody listens there any more
    with pytest.raises(TemporaryFailure, match="ConnectionRefused"):
        SmtpSender(f"smtp://127.0.0.1:{port}", MAIL_FROM, timeout=5).send(outgoing())


def test_starttls_is_used_when_offered_then_login(recorder, certificate):
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((mechanism, auth_data.login, auth_data.password, session.ssl is not None))
        return AuthResult(success=auth_data.password == b"p@ss:word", handled=False)

    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), tls_context=server_tls(certificate),
                            require_starttls=True, authenticator=authenticator, auth_required=True)
    controller.start()
    try:
        url = f"smtp://mailer%40simkeep.test:p%40ss%3Aword@127.0.0.1:{controller.port}"
        sent = SmtpSender(url, MAIL_FROM, ssl_context=client_tls(certificate)).send(outgoing("fr"))
        with pytest.raises(TemporaryFailure, match="SMTPAuthenticationError: 535"):
            SmtpSender(url.replace("p%40ss", "wrong"), MAIL_FROM, ssl_context=client_tls(certificate)).send(outgoing())
    finally:
        controller.stop()
    assert sent.detail.startswith("250 ")
    assert logins[0][1:] == (b"mailer@simkeep.test", b"p@ss:word", True)
    [session] = recorder.sessions
    assert session.ssl is not None  # the message itself went over TLS


def test_smtps_speaks_tls_from_the_first_byte(recorder, certificate):
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), ssl_context=server_tls(certificate))
    controller.start()
    try:
        sent = SmtpSender(f"smtps://127.0.0.1:{controller.port}", MAIL_FROM,
                          ssl_context=client_tls(certificate)).send(outgoing("zh_CN"))
    finally:
        controller.stop()
    assert sent.detail.startswith("250 ")
    received = email.message_from_bytes(recorder.envelopes[0].content, policy=default_policy)
    assert received["Subject"] == EXPECTED["zh_CN"][0]


def test_an_untrusted_certificate_is_a_temporary_failure(recorder, certificate):
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), ssl_context=server_tls(certificate))
    controller.start()
    try:
        with pytest.raises(TemporaryFailure, match="SSL"):
            SmtpSender(f"smtps://127.0.0.1:{controller.port}", MAIL_FROM, timeout=5).send(outgoing())
    finally:
        controller.stop()
    assert recorder.envelopes == []


def test_credentials_are_not_sent_in_clear_to_another_machine():
    sender = SmtpSender("smtp://user:secret@mail.example.com:2525", MAIL_FROM)
    assert (sender.host, sender.port, sender.username, sender.password) == ("mail.example.com", 2525, "user", "secret")
    assert SmtpSender("smtps://mail.example.com", MAIL_FROM).port == 465
    assert SmtpSender("smtp://mail.example.com", MAIL_FROM).port == 25
    with pytest.raises(ValueError):
        SmtpSender("http://mail.example.com", MAIL_FROM)


def test_html_part_escapes_the_text_and_makes_links_clickable():
    text = 'Tom & "Jerry" <b>: see https://simkeep.test/recharge?msisdn=%2B33612345678&lang=fr. 充值：https://x.test/a。'
    html = to_html(text, "zh_CN")
    assert ('Tom &amp; &quot;Jerry&quot; &lt;b&gt;: see <a href="https://simkeep.test/recharge?msisdn=%2B33612345678'
            '&amp;lang=fr">https://simkeep.test/recharge?msisdn=%2B33612345678&amp;lang=fr</a>. '
            '充值：<a href="https://x.test/a">https://x.test/a</a>。') in html
    assert "<b>" not in html and '<html lang="zh-CN">' in html and '<meta charset="utf-8">' in html
