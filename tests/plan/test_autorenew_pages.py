"""The portal's auto-renew page for a signed-in line, and the one-tap link of auto-renew messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from simkeep.line import service as lines
from simkeep.payment import flow
from simkeep.plan import autorenew
from simkeep.plan.autorenew_models import AutoRenewCharge
from simkeep.plan.autorenew_tasks import run_autorenew
from simkeep.sandbox import service as sandbox
from tests.factories.lines import make_line, top_up
from tests.factories.sessions import open_session

NUMBER = "+33612345678"


def signed_in_line(db, client, now):
    make_line(db, msisdn=NUMBER, now=now)
    top_up(db, msisdn=NUMBER, now=now)
    open_session(db, client, {"numbers": [NUMBER], "csrf": "t0ken"}, now=now)


def test_save_a_card_turn_on_and_off_from_the_page(db, client):
    now = datetime.now(UTC)
    signed_in_line(db, client, now)
    page = client.get("/lines/auto-renew?msisdn=%2B33612345678")
    assert page.status_code == 200 and "Auto-renew is off for this line." in page.text
    assert 'href="/lines/auto-renew?msisdn=%2B33612345678"' in client.get("/lines").text
    client.post("/lines/auto-renew/card", data={"msisdn": NUMBER, "card_number": sandbox.APPROVE_CARD,
                                                "csrf_token": "t0ken"})
    with db.transaction(write=False) as session:
        line = lines.find_live_line(session, NUMBER)
        [method] = autorenew.methods_of(session, line.id)
    assert method.label == "Visa •••• 4242"
    refused = client.post("/lines/auto-renew/on", data={"msisdn": NUMBER, "offer_id": "fr-orange-mobicarte-10",
                                                        "mode": "before_end", "method_id": "00000000-0000-0000-0000-000000000001",
                                                        "days_before": "3", "csrf_token": "t0ken"})
    assert "Choose one of this line" in refused.text
    page = client.post("/lines/auto-renew/on", data={"msisdn": NUMBER, "offer_id": "fr-orange-mobicarte-10",
                                                     "mode": "before_end", "method_id": str(method.id),
                                                     "days_before": "3", "csrf_token": "t0ken"})
    assert "Auto-renew is on" in page.text
    with db.transaction(write=False) as session:
        setting = autorenew.setting_of(session, line.id)
        assert (setting.enabled, setting.offer_id, setting.changed_by) == (True, "fr-orange-mobicarte-10", "portal")
    page = client.post("/lines/auto-renew/off", data={"msisdn": NUMBER, "csrf_token": "t0ken"})
    assert "Auto-renew is off for this line." in page.text
    # Someone else's number: back to sign-in.
    assert client.get("/lines/auto-renew?msisdn=%2B33612345600", follow_redirects=False).status_code == 303


def test_the_one_tap_link_offers_to_pay_and_turns_auto_renew_off(db, client, settings):
    now = datetime.now(UTC)
    signed_in_line(db, client, now)
    saved = flow.finish_saving(
        db, settings, provider="sandbox", setup_ref="seti_x", test_card=sandbox.DECLINE_CARD)
    with db.transaction() as session:
        line = lines.find_live_line(session, NUMBER)
        method = autorenew.save_method(session, line=line, provider="sandbox", method="card", saved=saved, now=now)
        autorenew.turn_on(session, line=line, offer_id="fr-orange-mobicarte-10", mode="before_end",
                          method_id=method.id, actor="portal", now=now)
    run_autorenew(db, settings, now=line.validity_ends_at - timedelta(days=2))
    with db.transaction(write=False) as session:
        charge = session.scalars(select(AutoRenewCharge)).one()
    token = autorenew.link_token(settings.key(autorenew.LINK_PURPOSE), charge.id)
    client.cookies.clear()  # the link works without signing in
    open_session(db, client, {"csrf": "t0ken"}, now=now)
    page = client.get(f"/auto-renew/{token}")
    assert page.status_code == 200 and "did not go through yet" in page.text
    paid = client.post(f"/auto-renew/{token}/pay", data={"csrf_token": "t0ken"}, follow_redirects=False)
    assert paid.headers["location"] == "/recharge?msisdn=%2B33612345678"
    off = client.post(f"/auto-renew/{token}/off", data={"csrf_token": "t0ken"})
    assert "Auto-renew is off for this line." in off.text
    with db.transaction(write=False) as session:
        assert autorenew.setting_of(session, line.id).changed_by == "link"
        assert session.get(AutoRenewCharge, charge.id).state == "stopped"
    assert client.get(f"/auto-renew/{token[:-2]}xx").status_code == 404


def test_a_keep_my_number_plan_opens_the_page_with_its_way_and_offer_chosen(db, client):
    now = datetime.now(UTC)
    signed_in_line(db, client, now)
    client.post("/lines/auto-renew/card", data={"msisdn": NUMBER, "card_number": sandbox.APPROVE_CARD,
                                                "csrf_token": "t0ken"})
    cheapest = client.get("/lines/auto-renew?msisdn=%2B33612345678&plan=cheapest&offer=fr-orange-mobicarte-25").text
    assert 'value="lowest_cost" checked' in cheapest and 'value="before_end" checked' not in cheapest
    assert 'value="fr-orange-mobicarte-25" selected' in cheapest
    never_barred = client.get("/lines/auto-renew?msisdn=%2B33612345678&plan=reachable").text
    assert 'value="before_end" checked' in never_barred and 'value="lowest_cost" checked' not in never_barred
