"""Renewing without signing in: anyone pays for any number, and sees nothing of the line but what they did."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from simkeep.line.models import Line
from simkeep.main import create_app
from simkeep.payment.models import PaymentAttempt
from tests.factories.lines import make_line, top_up
from tests.factories.payments import now
from tests.factories.snapshot import snapshot
from tests.portal import browser, page_text
from tests.portal import helpers as h

# Anything that looks like a date or a balance: a year, a month name in the three languages, "valid until".
DATEISH = re.compile(r"20\d\d|年|janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc|January|February|March|"
                     r"April|May|June|July|August|September|October|November|December|valid until|valable jusqu|"
                     r"有效期至")
BALANCE = ("20,00", "20.00")  # the line's balance after top-ups of 15 € and 5 € (no offer costs 20 €)


@pytest.fixture
def cfg(settings):
    return settings.model_copy(update={"public_url": "http://testserver"})


@pytest.fixture
def app(cfg, db):
    return create_app(cfg, db)


@pytest.mark.parametrize("lang", ["zh_CN", "fr", "en"])
def test_anyone_renews_any_number_and_sees_no_date_or_balance(app, db, lang):
    make_line(db, language=lang, now=now())
    top_up(db, offer_id="fr-orange-mobicarte-15", now=now())  # a balance and a validity a stranger must not learn
    top_up(db, offer_id="fr-orange-mobicarte-5", now=now())
    with browser(app, lang) as payer:
        seen = [page_text(payer.get("/recharge").text)]
        summary = h.to_summary(payer)
        seen += [page_text(payer.get("/recharge/number").text), page_text(payer.get("/recharge/method").text),
                 page_text(summary)]
        assert "+33 6 12 34 56 78" in page_text(summary)
        assert {"zh_CN": "延长 14 天", "fr": "prolongée de 14 jours", "en": "extended by 14 days"}[lang] in page_text(
            summary), page_text(summary)
        pay_url = h.confirm(payer)
        assert re.fullmatch(r"/sandbox/pay/sbx_[0-9a-f]{24}", pay_url)
        [attempt] = h.attempts(db)
        assert (attempt.msisdn, attempt.status, attempt.language) == (h.MSISDN, "pending", lang)
        result = payer.get(f"/pay/{attempt.id}")
        assert result.status_code == 200
        seen.append(page_text(result.text))
        poll = payer.get(f"/pay/{attempt.id}/status").json()
        seen.append(page_text(f"<main>{poll['html']}</main>"))
    for text in seen:
        assert not DATEISH.search(text), DATEISH.search(text).group(0) + " in: " + text
        assert not any(b in text for b in BALANCE), text
    # Another browser (or the same one without its session) learns nothing about this payment.
    with browser(app, lang) as stranger:
        for path in (f"/pay/{attempt.id}", f"/pay/{attempt.id}/action"):
            assert stranger.get(path).status_code == 404
        assert stranger.get(f"/pay/{attempt.id}/status").status_code == 404
        assert stranger.get("/lines").headers["location"] == "/signin?next=/lines"


def test_a_paid_result_says_only_how_many_days_were_added(app, db):
    make_line(db, language="fr", now=now())
    with browser(app, "fr") as payer:
        h.to_summary(payer)
        h.confirm(payer)
        [attempt] = h.attempts(db)
        result = top_up(db, now=now())  # stands for the provider's webhook having credited the line
        with db.transaction() as session:
            session.execute(update(PaymentAttempt).values(status="succeeded", topup_id=result.topup.id))
        text = page_text(payer.get(f"/pay/{attempt.id}").text)
        assert "10,00 € payés pour le +33 6 12 34 56 78. Validité prolongée de 14 jours." in text, text
        assert not DATEISH.search(text) and "/receipts/" not in payer.get(f"/pay/{attempt.id}").text
        # The same browser, once it signs in with the code, sees the date and the receipt.
        h.sign_in(payer, db)
        full = payer.get(f"/pay/{attempt.id}").text
        assert "valable jusqu" in full


@pytest.mark.parametrize("case", ["unknown", "deactivated", "other operator"])
def test_a_number_that_cannot_be_renewed_gets_one_answer_and_nothing_is_stored(app, db, case):
    if case == "deactivated":
        make_line(db, now=now())
        with db.transaction() as session:
            session.execute(update(Line).values(state="deactivated"))
    elif case == "other operator":
        make_line(db, operator_id="fr-sfr-la-carte", now=now())
    with browser(app) as payer:
        token = h.csrf(payer)
        payer.post("/recharge/offer", data={"offer": h.OFFER_10, "csrf_token": token})
        before = snapshot(db)
        answer = payer.post("/recharge/number", data={"msisdn": h.MSISDN, "csrf_token": token})
        assert answer.status_code == 422
        assert ("This number cannot be renewed online. Check the number and the operator you chose, or recharge "
                "in a store.") in page_text(answer.text)
        assert snapshot(db) == before
        assert payer.get("/recharge/method").headers["location"] == "/recharge/number"


def test_a_verified_browser_sees_the_dates_as_before(app, db):
    make_line(db, language="en", now=now())
    with browser(app) as holder:
        h.sign_in(holder, db)
        holder.post("/recharge/offer", data={"offer": h.OFFER_10, "csrf_token": h.csrf(holder)})
        holder.get(f"/recharge?msisdn={h.MSISDN.replace('+', '%2B')}")
        holder.post("/recharge/offer", data={"offer": h.OFFER_10, "csrf_token": h.csrf(holder)})
        holder.post("/recharge/method", data={"method": "card", "csrf_token": h.csrf(holder)})
        assert "valid until" in page_text(holder.get("/recharge/summary").text)


@pytest.mark.parametrize(("value", "lang", "message"), [
    ("garbage", "en", "This is not a valid mobile number. Check it and try again."),
    ("9" * 10_000, "fr", "Ce numéro de mobile n'est pas valide. Vérifiez-le et réessayez."),
    # A control character is refused before any route runs (web/inputs.py), with the general sentence.
    ("+33 6 12 34 56 78\u0000<script>", "zh_CN", "此链接或表单无效。请返回后重试。"),
])
def test_the_reminder_link_checks_its_number(app, db, value, lang, message):
    make_line(db, now=now())
    with browser(app, lang) as reader:
        h.csrf(reader)
        before = reader.cookies.get("simkeep_session")
        answer = reader.get("/recharge", params={"msisdn": value})
        assert answer.status_code == 422
        assert message in page_text(answer.text)
        assert reader.cookies.get("simkeep_session") == before  # nothing stored
        ok = reader.get("/recharge", params={"msisdn": h.MSISDN})
        assert ok.status_code == 200
        reader.post("/recharge/offer", data={"offer": h.OFFER_10, "csrf_token": h.csrf(reader)})
        assert 'value="+33612345678"' in reader.get("/recharge/number").text  # prefilled, not yet checked
        assert reader.get("/recharge/method").headers["location"] == "/recharge/number"


def test_the_number_step_is_limited_per_address(settings, db):
    cfg = settings.model_copy(update={"renewal_numbers_per_ip": "3 per hour"})
    make_line(db, now=now())
    with TestClient(create_app(cfg, db), follow_redirects=False, client=("2001:db8:5:6::1", 1000)) as payer:
        token = h.csrf(payer)
        payer.post("/recharge/offer", data={"offer": h.OFFER_10, "csrf_token": token})
        codes = [payer.post("/recharge/number", data={"msisdn": f"+3361234567{i}", "csrf_token": token}).status_code
                 for i in range(4)]
    assert codes == [422, 422, 422, 429]


def test_the_validity_cap_is_told_without_a_date(app, db):
    make_line(db, now=now())
    with db.transaction() as session:  # valid for 729 days: 14 more would pass the 730-day cap
        session.execute(update(Line).values(validity_ends_at=now() + timedelta(days=729)))
    with browser(app) as payer:
        token = h.csrf(payer)
        payer.post("/recharge/offer", data={"offer": h.OFFER_10, "csrf_token": token})
        answer = payer.post("/recharge/number", data={"msisdn": h.MSISDN, "csrf_token": token})
    assert answer.status_code == 422
    text = page_text(answer.text)
    assert ("This amount would take the number past the longest validity its operator allows. Choose a smaller "
            "amount.") in text and not DATEISH.search(text)
