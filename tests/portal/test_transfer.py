"""A pending bank transfer gives the payer what they need where they look: the pay pages, My lines, an SMS and an
e-mail, each with the IBAN, the BIC, the exact amount and the RF creditor reference (and the EPC QR code on pages).
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from simkeep.catalog import service as catalog
from simkeep.line import service as lines
from simkeep.main import create_app
from simkeep.notification import templates
from simkeep.notification.models import OutboxMessage
from simkeep.payment import service as payments
from simkeep.payment.providers.base import ProviderPayment
from simkeep.payment.providers.sepa import epc
from simkeep.payment.providers.sepa import service as bank
from simkeep.payment.tasks import process_inbox
from tests.factories.snapshot import snapshot
from tests.payment.sepa.statements import Credit, statement
from tests.portal import browser
from tests.portal import helpers as h
from tests.web import freeze_clock, race

IBAN, BIC, CREDITOR = "DE89370400440532013000", "COBADEFFXXX", "simkeep demo operator"
T = datetime(2027, 3, 2, 9, 15, tzinfo=UTC)


@pytest.fixture
def cfg(settings):
    return settings.model_copy(update={"payment_routes": {"*": {"bank_transfer": "sepa"}}, "sepa_iban": IBAN,
                                       "sepa_bic": BIC, "public_url": "http://testserver"})


@pytest.fixture
def app(cfg, db):
    return create_app(cfg, db)


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, T)


def line(db, *, email: str | None = "ada@example.org", language: str = "fr"):
    with db.transaction() as session:
        return lines.create_line(session, msisdn=h.MSISDN, operator_id="fr-orange-mobicarte", language=language,
                                 email=email, now=T)


def text_of(html: str) -> str:
    main = re.search(r"<main[^>]*>(.*)</main>", html, re.S).group(1)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", main)))


def transfer_notices(db) -> list[OutboxMessage]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "transfer.pending")
                                    .order_by(OutboxMessage.created_at, OutboxMessage.channel)))


def pay_by_transfer(client: TestClient) -> str:
    h.to_summary(client, method="bank_transfer")
    return h.confirm(client)


def grouped(text: str) -> str:
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def shows_the_details(html: str, reference: str) -> None:
    text = text_of(html)
    for shown in ("DE89 3704 0044 0532 0130 00", BIC, CREDITOR, grouped(reference), "€10.00"):
        assert shown in text, f"{shown!r} not in {text}"
    [svg] = re.findall(r'<svg [^>]*class="epc-qr".*?</svg>', html, re.S)
    assert svg == epc.qr_inline("\n".join(["BCD", "002", "1", "SCT", BIC, CREDITOR, IBAN, "EUR10.00", "",
                                           reference]))


def test_the_payer_sees_the_details_on_both_pay_pages_and_the_line_gets_them_once(app, db, clock):
    line(db)
    with browser(app) as payer:
        action = pay_by_transfer(payer)
        [attempt] = h.attempts(db)
        assert (action, attempt.status) == (f"/pay/{attempt.id}/action", "pending")
        shows_the_details(payer.get(action).text, attempt.provider_ref)
        shows_the_details(payer.get(f"/pay/{attempt.id}").text, attempt.provider_ref)
        shows_the_details(f"<main>{payer.get(f'/pay/{attempt.id}/status').json()['html']}</main>",
                          attempt.provider_ref)
        # Another browser learns nothing of it.
        with browser(app) as stranger:
            assert stranger.get(action).status_code == 404 and stranger.get(f"/pay/{attempt.id}").status_code == 404
    # By SMS and by e-mail, in the line's language (French), once.
    email, sms = transfer_notices(db)  # ordered by channel
    assert (sms.channel, sms.recipient, email.channel, email.recipient) == ("sms", h.MSISDN, "email",
                                                                           "ada@example.org")
    assert sms.payload == email.payload == {
        "msisdn": h.MSISDN, "attempt_id": str(attempt.id), "amount": {"amount_minor": 1000, "currency": "EUR"},
        "creditor": CREDITOR, "iban": IBAN, "bic": BIC, "reference": attempt.provider_ref}
    assert templates.render("transfer.pending", sms.language, sms.payload) == (
        f"Pour recharger le +33612345678 par virement, envoyez exactement 10,00\u00a0€ à simkeep demo operator, "
        f"IBAN DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX, avec la référence {grouped(attempt.provider_ref)}. "
        f"La ligne est rechargée à l'arrivée du virement.")
    # Recording the same creation again sends nothing more.
    with db.transaction() as session:
        payments.record_created(session, attempt.id, ProviderPayment(attempt.provider_ref, attempt.next_action),
                                now=T + timedelta(minutes=1))
    assert len(transfer_notices(db)) == 2


def test_my_lines_shows_the_awaited_transfer_until_it_arrives(app, cfg, db, clock):
    line(db, email=None)
    with browser(app, "zh_CN") as holder:
        h.sign_in(holder, db)
        pay_by_transfer(holder)
        [attempt] = h.attempts(db)
        page = holder.get("/lines").text
        assert "等待银行转账到账" in text_of(page)
        shows_the_details(page, attempt.provider_ref)
        assert [m.channel for m in transfer_notices(db)] == ["sms"]  # no e-mail address: the SMS only
        with db.transaction() as session:
            bank.import_statement(session, data=statement("S1", [Credit("B1", "10.00",
                                                                        rf=grouped(attempt.provider_ref))]), now=T)
        assert process_inbox(db, cfg) == 1
        page = holder.get("/lines").text
        assert "等待银行转账到账" not in text_of(page) and 'class="epc-qr"' not in page
        assert holder.get(f"/pay/{attempt.id}/status").json()["status"] == "succeeded"


def test_a_line_hears_of_three_transfers_a_day_at_most(app, db, clock):
    line(db, email=None)
    with browser(app) as payer:
        for _ in range(4):
            pay_by_transfer(payer)
            clock.advance(minutes=1)
        assert len(h.attempts(db)) == 4
        assert [m.payload["attempt_id"] for m in transfer_notices(db)] == [str(a.id) for a in h.attempts(db)[:3]]
        clock.at = T + timedelta(days=1)  # a new day
        pay_by_transfer(payer)
    assert [m.payload["attempt_id"] for m in transfer_notices(db)][-1] == str(h.attempts(db)[-1].id)
    assert len(transfer_notices(db)) == 4


def test_no_details_are_sent_when_the_transfer_cannot_be_offered(settings, db, clock):
    broken = settings.model_copy(update={"payment_routes": {"*": {"bank_transfer": "sepa"}},
                                         "sepa_iban": "DE89370400440532013001", "sepa_bic": BIC})
    line(db)
    with browser(create_app(broken, db)) as payer:
        h.to_summary(payer, method="bank_transfer")
        before = snapshot(db)
        pay_url = h.confirm(payer)
        [attempt] = h.attempts(db)
        assert attempt.status == "failed" and pay_url == f"/pay/{attempt.id}"
        assert 'class="epc-qr"' not in payer.get(pay_url).text
    assert transfer_notices(db) == []
    assert {k: v for k, v in snapshot(db)["counts"].items() if v != before["counts"][k]} == {"payment_attempts": 1}


def test_racing_transfers_still_tell_the_line_of_its_first_three_of_the_day(db, clock):
    """Six transfers started at once for one line (six browsers): the notices are decided by the attempts' order,
    which every racing transaction reads the same, so exactly the first three are sent, once each."""
    created = line(db, email=None)
    action = {"type": "bank_transfer", "iban": IBAN, "bic": BIC, "creditor": CREDITOR, "amount_minor": 1000,
              "currency": "EUR"}
    attempts = []
    for n in range(6):
        with db.transaction() as session:
            operator = catalog.get_operator(session, created.operator_id)
            offer = catalog.get_offer(session, h.OFFER_10, operator)
            attempt, _ = payments.start_checkout(session, checkout_key=f"race-{n}", line=created, operator=operator,
                                                 offer=offer, method="bank_transfer", provider="sepa",
                                                 language="en", now=T + timedelta(seconds=n))
        attempts.append(attempt)

    def create(i: int) -> None:
        reference = epc.creditor_reference(attempts[i].id)
        with db.transaction() as session:
            payments.record_created(session, attempts[i].id,
                                    ProviderPayment(reference, {**action, "reference": reference}), now=T)

    race(6, create)
    race(6, create)  # and all of it again
    sent = [m.payload["attempt_id"] for m in transfer_notices(db)]
    assert len(sent) == 3 and set(sent) == {str(a.id) for a in attempts[:3]}
