"""The renewal wizard's knowledge of the line: a reminder's signed link opens the line's own operator with the number
filled in; a bare ?msisdn= only prefills it; no date is promised before the number is known; an offer that buys
no validity is never sold silently as a renewal; Back to the link's page keeps the number checked since."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from simkeep.catalog import service as catalog
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line import links, rules
from simkeep.line.links import RenewalLinks
from simkeep.line.models import Line
from simkeep.locale import formats
from simkeep.locale.languages import BASE_LOCALE
from simkeep.main import create_app
from simkeep.notification.models import OutboxMessage
from tests.conftest import T0
from tests.factories.lines import make_line, view
from tests.factories.snapshot import snapshot
from tests.portal import browser, page_text
from tests.portal import helpers as h
from tests.web import freeze_clock

SFR = "fr-sfr-la-carte"  # not the portal's default operator (Orange)
SFR_15 = "fr-sfr-la-carte-15"  # 15 €, 30 days
HK = "hk-shinetown-huamei"  # validity stacking "max of current and new": an offer extends to now + its days
HK_50 = "hk-shinetown-huamei-50"  # 210 days
HK_NUMBER = "+85251234567"
SHOWN = "+33 6 12 34 56 78"


@pytest.fixture
def cfg(settings):
    return settings.model_copy(update={"public_url": "http://testserver"})


@pytest.fixture
def app(cfg, db):
    return create_app(cfg, db)


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, T0)


def offers_on(html: str) -> set[str]:
    return set(re.findall(r'name="offer" value="([^"]+)"', html))


def last_day(instant, lang: str = "en", tz: str = "Europe/Paris") -> str:
    return formats.last_day(instant, tz, BASE_LOCALE[lang])


def reminder_link(db, cfg, clock, msisdn: str = h.MSISDN) -> str:
    """The renewal link of the line's 30-day reminder, written by the real sweep at its due time."""
    with db.transaction(write=False) as session:
        line = session.scalars(select(Line).where(Line.msisdn == msisdn)).one()
        operator = catalog.get_operator(session, line.operator_id)
    clock.at = rules.reminder_at(operator, line.number_loss_at, 30)
    run_sweep(db, now=clock.at, links=RenewalLinks(cfg.base_url, cfg.key(links.PURPOSE)))
    with db.transaction(write=False) as session:
        [reminder] = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "reminder",
                                                                 OutboxMessage.recipient == msisdn)).all()
    url = reminder.payload["renew_url"]
    assert url.startswith(f"http://testserver/r/{msisdn[1:]}.")
    return url.removeprefix("http://testserver")


def follow(reader: TestClient, path: str):
    """A link's redirect, then the page it leads to."""
    answer = reader.get(path)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"], reader.get(answer.headers["location"])


# -- the reminder's link ---------------------------------------------------------------------------------------------

def test_a_reminder_link_opens_the_lines_own_operator_with_the_number(app, cfg, db, clock):
    make_line(db, operator_id=SFR, language="en", now=T0)
    path = reminder_link(db, cfg, clock)
    new_end = rules.extended_validity(line_operator(db, SFR), view(db).line.validity_ends_at, 30, clock.at)
    with browser(app) as reader:
        to, offers = follow(reader, path)
        assert to == "/recharge" and offers.status_code == 200  # the link leaves the address bar at once
        assert offers_on(offers.text) == {o.id for o in sfr_offers(db)}  # SFR's, not Orange's
        assert 'id="operator"' not in offers.text  # the line fixes the operator: no menu
        text = page_text(offers.text)
        assert f"For {SHOWN}, currently valid until {last_day(view(db).line.validity_ends_at)}." in text, text
        assert f"valid until {last_day(new_end)}" in page_text(offers.text)
        # The number is known: after the offer comes the payment method, then the summary with the real new date.
        chosen = reader.post("/recharge/offer", data={"offer": SFR_15, "csrf_token": h.csrf(reader)})
        assert chosen.headers["location"] == "/recharge/method"
        reader.post("/recharge/method", data={"method": "card", "csrf_token": h.csrf(reader)})
        summary = page_text(reader.get("/recharge/summary").text)
    assert SHOWN in summary and f"New validity valid until {last_day(new_end)}" in summary, summary
    assert "Balance" not in summary and "0.00" not in summary  # the link tells dates, never the balance


def test_a_bare_number_only_prefills_the_default_operators_offers(app, cfg, db, clock):
    make_line(db, operator_id=SFR, language="en", now=T0)
    reminder_link(db, cfg, clock)
    with browser(app) as reader:
        offers = reader.get("/recharge?msisdn=%2B33612345678")  # an old reminder, or anyone's typing
        assert offers.status_code == 200
        assert offers_on(offers.text) == {o.id for o in catalog_offers(db, "fr-orange-mobicarte")}
        assert "valid until" not in page_text(offers.text)
        reader.post("/recharge/offer", data={"offer": h.OFFER_10, "csrf_token": h.csrf(reader)})
        assert 'value="+33612345678"' in reader.get("/recharge/number").text
        assert reader.get("/recharge/method").headers["location"] == "/recharge/number"


@pytest.mark.parametrize("case", ["expired", "another number", "forged", "signed with another key", "cut short"])
def test_a_link_that_does_not_prove_itself_is_only_a_prefill(app, cfg, db, clock, case):
    make_line(db, operator_id=SFR, language="en", now=T0)
    make_line(db, msisdn="+33612345679", operator_id=SFR, language="en", now=T0)
    path = reminder_link(db, cfg, clock)
    _, day, mac = path.removeprefix("/r/").split(".")
    number = h.MSISDN
    if case == "expired":
        clock.at = view(db).line.number_loss_at + timedelta(days=1)
    elif case == "another number":
        path, number = f"/r/33612345679.{day}.{mac}", "+33612345679"
    elif case == "forged":
        path = path[:-1] + ("A" if path[-1] != "A" else "B")
    elif case == "signed with another key":
        path = f"/r/{links.token('not-the-key', h.MSISDN, clock.at + timedelta(days=9))}"
    else:
        path = path[:-5]  # an SMS app wrapped or cut the link
    with browser(app) as reader:
        to, offers = follow(reader, path)
        assert to == f"/recharge?msisdn=%2B{number[1:]}" and offers.status_code == 200
        assert offers_on(offers.text) == {o.id for o in catalog_offers(db, "fr-orange-mobicarte")}
        assert "valid until" not in page_text(offers.text)
        reader.post("/recharge/offer", data={"offer": h.OFFER_10, "csrf_token": h.csrf(reader)})
        assert f'value="{number}"' in reader.get("/recharge/number").text  # prefilled, not yet checked
        assert reader.get("/recharge/method").headers["location"] == "/recharge/number"


@pytest.mark.parametrize("link", ["garbage<script>", "12", "0" * 64])
def test_a_link_without_a_number_opens_the_offers_and_stores_nothing(app, db, clock, link):
    with browser(app) as reader:
        answer = reader.get(f"/r/{link}")
        assert (answer.status_code, answer.headers["location"]) == (303, "/recharge")
        assert "set-cookie" not in answer.headers  # no session was started, nothing stored
        assert answer.headers["cache-control"] == "no-store"
    with browser(app) as reader:
        assert reader.get(f"/r/{'1' * 65}").status_code == 422  # bounded


# -- Back and Forward -------------------------------------------------------------------------------------------------

def test_back_to_the_links_page_keeps_the_number_checked_since(app, db, clock):
    make_line(db, language="en", now=T0)
    with browser(app) as reader:
        reader.get("/recharge?msisdn=%2B33612345678")
        token = h.csrf(reader)
        reader.post("/recharge/offer", data={"offer": h.OFFER_10, "csrf_token": token})
        assert reader.post("/recharge/number", data={"msisdn": "06 12 34 56 78", "csrf_token": token}
                           ).headers["location"] == "/recharge/method"
        # Back, Back (the browser asks for the link's page again), then Forward, Forward.
        assert reader.get("/recharge/number").status_code == 200
        assert reader.get("/recharge?msisdn=%2B33612345678").status_code == 200
        assert 'value="+33612345678"' in reader.get("/recharge/number").text
        assert reader.get("/recharge/method").status_code == 200  # not sent back to the number step
        # A link for another number does replace it (as a prefill).
        reader.get("/recharge?msisdn=%2B33698765432")
        assert reader.get("/recharge/method").headers["location"] == "/recharge/number"
        assert 'value="+33698765432"' in reader.get("/recharge/number").text


# -- no date before the number is known -------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh_CN", "fr", "en"])
def test_no_end_date_is_promised_before_the_number_is_known(app, db, clock, lang):
    days = {"zh_CN": "有效期 14 天", "fr": "14 jours de validité", "en": "14 days of validity"}[lang]
    until = {"zh_CN": "有效期至", "fr": "valable jusqu", "en": "valid until"}[lang]
    with browser(app, lang) as reader:
        for path in ("/", "/recharge"):
            text = page_text(reader.get(path).text)
            assert days in text and until not in text, f"{path}: {text}"
            assert not re.search(r"20\d\d", text), f"{path}: {text}"


# -- an offer that buys no validity ------------------------------------------------------------------------------------

def hk_line_valid_for(db, days: int) -> Line:
    make_line(db, msisdn=HK_NUMBER, operator_id=HK, language="en", now=T0)
    with db.transaction() as session:
        session.execute(update(Line).values(validity_ends_at=T0 + timedelta(days=days)))
    return view(db, HK_NUMBER).line


def test_an_offer_that_buys_no_validity_needs_a_tick_to_be_paid(app, db, clock):
    hk_line_valid_for(db, 300)  # HK$50 buys "now + 210 days": nothing for this line
    with browser(app) as payer:
        summary = page_text(h.to_summary(payer, msisdn="+852 5123 4567", offer=HK_50))
        assert "Adds credit only: this amount does not extend this number's validity." in summary, summary
        assert not re.search(r"20\d\d", summary)  # an unverified payer learns no date
        key = re.search(r'name="checkout_key" value="([^"]+)"', payer.get("/recharge/summary").text).group(1)
        before = snapshot(db)
        refused = payer.post("/recharge/confirm", data={"checkout_key": key, "csrf_token": h.csrf(payer)})
        assert refused.status_code == 422
        assert ("This amount adds credit only. Tick the box to confirm that is what you want, or choose another "
                "amount.") in page_text(refused.text)
        assert 'name="credit_only" value="yes" required' in refused.text
        assert snapshot(db) == before and h.attempts(db) == []  # nothing started
        paid = payer.post("/recharge/confirm", data={"checkout_key": key, "credit_only": "yes",
                                                     "csrf_token": h.csrf(payer)})
        assert paid.status_code == 303 and urlsplit(paid.headers["location"]).path.startswith("/sandbox/pay/")
        [attempt] = h.attempts(db)
        assert (attempt.offer_id, attempt.amount_minor, attempt.currency) == (HK_50, 5000, "HKD")


def test_an_offer_that_extends_is_paid_without_a_tick(app, db, clock):
    hk_line_valid_for(db, 100)  # HK$50 buys "now + 210 days": 110 more
    with browser(app) as payer:
        summary = h.to_summary(payer, msisdn="+852 5123 4567", offer=HK_50)
        assert "credit only" not in page_text(summary) and 'name="credit_only"' not in summary
        assert "extended by 210 days" in page_text(summary)
        h.confirm(payer)
        assert len(h.attempts(db)) == 1


def test_a_verified_holder_sees_which_offers_add_credit_only_and_until_when(app, db, clock):
    line = hk_line_valid_for(db, 300)
    stays = last_day(line.validity_ends_at, tz="Asia/Hong_Kong")
    with browser(app) as holder:
        h.sign_in(holder, db, HK_NUMBER)
        offers = holder.get("/recharge?msisdn=%2B85251234567")
        marks = dict(re.findall(r'id="offer-([^"]+)".*?<span class="until( credit-only)?">', offers.text, re.S))
        assert marks == {"hk-shinetown-huamei-50": " credit-only", "hk-shinetown-huamei-100": " credit-only",
                         "hk-shinetown-huamei-300": ""}
        text = page_text(offers.text)
        assert text.count(f"adds credit only — your number stays valid until {stays}") == 2, text
        holder.post("/recharge/offer", data={"offer": HK_50, "csrf_token": h.csrf(holder)})
        holder.post("/recharge/method", data={"method": "card", "csrf_token": h.csrf(holder)})
        summary = page_text(holder.get("/recharge/summary").text)
    assert f"Adds credit only — your number stays valid until {stays}." in summary, summary


# -- helpers -----------------------------------------------------------------------------------------------------------

def line_operator(db, operator_id: str):
    with db.transaction(write=False) as session:
        return catalog.get_operator(session, operator_id)


def catalog_offers(db, operator_id: str) -> list:
    with db.transaction(write=False) as session:
        return next(offers for op, offers in catalog.list_operators(session) if op.id == operator_id)


def sfr_offers(db) -> list:
    return catalog_offers(db, SFR)
