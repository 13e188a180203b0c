"""The portal's "Keep my number until…" page for a signed-in line."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from simkeep.main import create_app
from simkeep.notification.models import OutboxMessage
from simkeep.plan.models import KeepPlan
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.snapshot import snapshot
from tests.portal import browser
from tests.portal.helpers import MSISDN, csrf, sign_in
from tests.web import freeze_clock


@pytest.fixture
def client(settings, db, monkeypatch):
    freeze_clock(monkeypatch, T0)
    with browser(create_app(settings.model_copy(update={"public_url": "http://testserver"}), db)) as c:
        yield c


def test_a_visitor_who_has_not_signed_in_is_sent_to_sign_in(client):
    answer = client.get("/lines/keep", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/signin?next=/lines/keep")


def test_the_page_shows_the_cheapest_plan_and_the_never_barred_one_and_saves_reminders(client, db):
    make_line(db, msisdn=MSISDN, operator_id="fr-free-2eur", now=T0)
    sign_in(client, db)
    page = client.get("/lines/keep", params={"msisdn": MSISDN, "until": "2027-09-01", "lang": "en"}).text
    assert "€2.00 on April 15, 2027, €5.70 on May 30, 2027: €7.70 in total." in page
    assert "€10.80 on March 31, 2027: €10.80 in total." in page
    assert "barred (suspended) for 32 days" in page
    # One click hands the plan to auto-renew: the cheapest way renews just before the number would be lost.
    assert ('href="/lines/auto-renew?msisdn=%2B33612345678&amp;plan=cheapest&amp;offer=' in page
            and "Renew automatically" in page)
    fr = client.get("/lines/keep", params={"msisdn": MSISDN, "until": "2027-09-01", "lang": "fr"}).text
    assert "2,00\u00a0€ le 15 avril 2027, 5,70\u00a0€ le 30 mai 2027\u00a0: 7,70\u00a0€ au total." in fr
    token = csrf(client)
    answer = client.post("/lines/keep/remind", data={"msisdn": MSISDN, "until": "2027-09-01", "mode": "reachable",
                                                     "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    with db.transaction(write=False) as session:
        saved = session.scalars(select(KeepPlan)).one()
        rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "plan.renewal")))
    assert (saved.mode, saved.total_minor, saved.reminders) == ("reachable", 1080, 1)
    assert [(m.payload["date"], m.payload["offer_id"]) for m in rows] == [("2027-03-31", "fr-free-2eur-6x")]
    assert "we will send you a reminder" in client.get(answer.headers["location"] + "&lang=en").text
    assert len(rows) == 1


def test_a_date_in_the_past_is_refused_with_a_translated_message_and_nothing_is_stored(client, db):
    make_line(db, msisdn=MSISDN, operator_id="fr-free-2eur", now=T0)
    sign_in(client, db)
    before = snapshot(db)
    page = client.get("/lines/keep", params={"until": "2020-01-01", "lang": "fr"}).text
    assert re.search("Choisissez une date", page)
    assert snapshot(db) == before
