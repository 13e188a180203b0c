"""Where an eSIM's code is shown: the counter (staff), the portal (signed in with the SMS code, as often as wanted),
the e-mailed link (once without a session, then sign in), the back office (never the code), the CLI import."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, update
from structlog.testing import capture_logs

from simkeep.audit.models import AuditEntry
from simkeep.line import service as lines
from simkeep.network.models import EsimProfile, ProvisioningCommand, Sim
from simkeep.notification import templates
from simkeep.notification.models import OutboxMessage
from tests.factories.staff import make_staff
from tests.factories.stores import make_store
from tests.network.esim_factory import SMDP, csv_text, iccid, imsi, matching_id, stock
from tests.portal.helpers import sign_in as portal_sign_in
from tests.reseller import csrf, site_fixture, text_of  # noqa: F401 (the `site` fixture)

NUMBER = "+33612345678"
LINE = "/counter/lines/%2B33612345678"
CODE = f"LPA:1${SMDP}${matching_id(1)}"


@pytest.fixture
def shop(site):
    now = site.clock()
    with site.db.transaction() as session:
        lines.create_line(session, msisdn=NUMBER, operator_id="fr-orange-mobicarte", language="en",
                          email="li@example.com", now=now)
    stock(site.db, site.settings, range(1, 3), now=now)
    store = make_store(site.db, now=now)
    agent = make_staff(site.db, site.settings, username="li", role="agent", store_id=store.id, now=now)
    return site, agent


def give(site, agent):
    client = site.signed_in(agent)
    page = client.get(LINE)
    assert "Give this line an eSIM: its SIM card, if it has one, stops working." in text_of(page.text)
    return client, client.post(f"{LINE}/esim", data={"csrf_token": csrf(page.text)})


def emailed_path(db) -> str:
    with db.transaction(write=False) as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "esim.ready")).one()
    assert (message.channel, message.recipient, message.language) == ("email", "li@example.com", "en")
    assert matching_id(1) not in json.dumps(message.payload)
    return urlsplit(message.payload["esim_url"]).path


def shown_publicly(db) -> dict:
    with db.transaction(write=False) as session:
        return dict(session.execute(select(Sim.iccid, EsimProfile.shown_publicly_at)
                                    .join(EsimProfile, EsimProfile.sim_id == Sim.id)).all())


def test_the_counter_gives_an_esim_and_shows_its_code_to_the_customer(shop):
    site, agent = shop
    with capture_logs() as logs:
        client, given = give(site, agent)
        assert (given.status_code, given.headers["location"]) == (303, f"{LINE}/esim")
        shown = client.get(f"{LINE}/esim")
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    words = text_of(shown.text)
    assert f"SM-DP+ address {SMDP} Activation code {matching_id(1)} Whole code {CODE}" in words
    assert f"ICCID {iccid(1)}" in words and "<svg" in shown.text and "data-print" in shown.text
    assert matching_id(1) not in repr(logs)
    assert f"This line has an eSIM (ICCID {iccid(1)})." in text_of(client.get(LINE).text)
    with site.db.transaction(write=False) as session:
        commands = session.scalars(select(ProvisioningCommand)).all()
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "sim.assign")).one()
    assert [(c.imsi, c.msisdn, c.mode, c.reason) for c in commands] == [(imsi(1), NUMBER, "cs+ps", "bind")]
    assert (audit.actor, audit.reason, audit.details) == (
        "staff:li", "eSIM profile given to the line", {"iccid": iccid(1), "imsi": imsi(1), "seq": 1})
    assert emailed_path(site.db).startswith("/esim/")


def test_without_stock_the_counter_says_so_and_nothing_moves(shop):
    site, agent = shop
    with site.db.transaction() as session:  # the stock is another operator's
        session.execute(update(Sim).values(operator_id="cn-cmcc-8yuan"))
    _client, refused = give(site, agent)
    assert refused.status_code == 409
    assert "No eSIM of this operator is in stock. Nothing was changed." in text_of(refused.text)
    with site.db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(ProvisioningCommand)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_the_emailed_link_shows_the_code_once_then_asks_to_sign_in(shop):
    site, agent = shop
    give(site, agent)
    path = emailed_path(site.db)
    public = site.client()
    landing = public.get(path)
    assert landing.status_code == 200 and landing.headers["cache-control"] == "no-store"
    assert landing.headers["referrer-policy"] == "no-referrer"
    assert "Without signing in, the code is shown only once." in text_of(landing.text)
    assert matching_id(1) not in landing.text
    opened = public.post(path, data={"csrf_token": csrf(landing.text)})
    assert opened.status_code == 200 and CODE in text_of(opened.text)
    assert "Without signing in, this code is shown only this once." in text_of(opened.text)
    assert shown_publicly(site.db) == {iccid(1): site.clock(), iccid(2): None}
    again = public.post(path, data={"csrf_token": csrf(landing.text)})
    later = site.client().get(path)
    for page in (again, later, public.get(path)):
        assert matching_id(1) not in page.text and "QR-G-5C" not in page.text and "<svg" not in page.text
        assert "The code behind this link was already shown once." in text_of(page.text)
    assert again.status_code == 409
    forged = site.client().get(path[:-3] + "abc")
    assert forged.status_code == 404 and matching_id(1) not in forged.text
    admin = site.staff("admin").get(f"/admin/lines/{NUMBER}")
    assert f"ICCID {iccid(1)}, given" in text_of(admin.text) and matching_id(1) not in admin.text
    assert "code shown through the e-mailed link" in text_of(admin.text)


def test_a_signed_in_subscriber_sees_the_code_as_often_as_they_like(shop):
    site, agent = shop
    give(site, agent)
    path = emailed_path(site.db)
    browser = site.client()
    assert browser.get("/lines/esim", params={"msisdn": NUMBER}).headers["location"].startswith("/signin?next=")
    portal_sign_in(browser, site.db, NUMBER)
    assert 'href="/lines/esim?msisdn=%2B33612345678"' in browser.get("/lines").text
    for _ in range(3):
        page = browser.get("/lines/esim", params={"msisdn": NUMBER})
        assert page.status_code == 200 and CODE in text_of(page.text)
        assert page.headers["cache-control"] == "no-store"
    # The e-mailed link, opened where the number is signed in, spends nothing.
    assert browser.get(path).headers["location"] == "/lines/esim?msisdn=%2B33612345678"
    assert shown_publicly(site.db) == {iccid(1): None, iccid(2): None}


def test_the_email_says_where_to_see_the_code_in_each_language():
    payload = {"msisdn": NUMBER, "esim_url": "https://simkeep.example/esim/abc"}
    assert templates.render("esim.ready", "en", payload) == (
        "Your eSIM for +33612345678 is ready. This link shows its QR code once (afterwards, sign in with your "
        "number to see it again); open it on another screen and scan the code with the phone: "
        "https://simkeep.example/esim/abc")
    assert templates.subject("esim.ready", "fr", payload) == "Votre eSIM pour le +33612345678 est disponible"


def test_the_cli_imports_a_file_or_refuses_it_with_line_numbers(cli, tmp_path):
    good = tmp_path / "profiles.csv"
    good.write_text(csv_text(range(1, 4)))
    assert "3 eSIM profiles of fr-orange-mobicarte in stock from profiles.csv" in cli(
        "esim", "import", str(good), "--operator", "fr-orange-mobicarte")
    bad = tmp_path / "bad.csv"
    wrong = iccid(5)[:-1] + str((int(iccid(5)[-1]) + 1) % 10)
    bad.write_text(csv_text(range(4, 5)) + f"{wrong},{imsi(5)},{SMDP},{matching_id(5)}\n")
    out = cli("esim", "import", str(bad), "--operator", "fr-orange-mobicarte", code=1)
    assert f"line 3: ICCID {wrong} fails its Luhn check digit" in out and "esim_import_refused" in out
    assert "3 eSIM profiles of fr-orange-mobicarte in stock" in cli("esim", "stock", "--operator",
                                                                   "fr-orange-mobicarte")
