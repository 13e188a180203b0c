"""Back-office pages for promotion campaigns: the list, a new campaign (its window in the operator's local time;
a wrong field is said in the reader's language and nothing is made), and a campaign's page (start, pause and
resume with a reason, audited; who is eligible now; the report). Admin and finance only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from simkeep.audit.models import AuditEntry
from simkeep.promotion.models import Promotion
from tests.factories.lines import make_line, top_up
from tests.factories.promotions import make_promotion
from tests.reseller import csrf, site_fixture, text_of  # noqa: F401 (the `site` fixture)

FORM = {"name": "Spring -20%", "code": "spring-20", "benefit": "percent_off", "benefit_value": "20",
        "currency": "EUR", "starts": "2027-03-28T01:30", "ends": "2027-04-30T00:00", "timezone": "Europe/Paris",
        "operator_id": "fr-orange-mobicarte", "first_renewal_only": "", "per_line_limit": "1", "stackable": "",
        "max_uses": "100", "budget": "250.00", "reason": "spring campaign approved"}


def create(client, **fields):
    token = csrf(client.get("/admin/promotions/new").text)
    form = {**FORM, **fields, "csrf_token": token}
    return client.post("/admin/promotions/new", data=form)


def campaigns(db) -> list[Promotion]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(Promotion)))


def audit(db, action: str) -> list[AuditEntry]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_admin_and_finance_see_the_pages_support_and_strangers_do_not(site):
    promo = make_promotion(site.db, now=site.clock())
    pages = ("/admin/promotions", "/admin/promotions/new", f"/admin/promotions/{promo.id}")
    for role in ("admin", "finance"):
        client = site.staff(role)
        for path in pages:
            assert client.get(path).status_code == 200, (role, path)
        assert 'href="/admin/promotions"' in client.get("/admin/account").text
    support = site.staff("support")
    for path in pages:
        assert support.get(path).status_code == 403, path
    assert 'href="/admin/promotions"' not in support.get("/admin/account").text
    assert create(site.staff("admin"), name="x").status_code == 303  # the form works for admin
    token = csrf(support.get("/admin/account").text)
    assert support.post("/admin/promotions/new", data={**FORM, "csrf_token": token}).status_code == 403
    stranger = site.client()
    assert stranger.get("/admin/promotions").status_code == 303


def test_a_new_campaign_reads_its_window_in_the_operators_local_time(site):
    client = site.staff("finance")
    response = create(client)
    assert response.status_code == 303
    [promo] = campaigns(site.db)
    assert response.headers["location"] == f"/admin/promotions/{promo.id}?done=created"
    # 01:30 on 28 March in Paris is still winter time (UTC+1); midnight on 30 April is summer time (UTC+2).
    assert (promo.starts_at, promo.ends_at) == (datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
                                                datetime(2027, 4, 29, 22, 0, tzinfo=UTC))
    assert (promo.state, promo.code, promo.operator_id, promo.per_line_limit) == ("draft", "SPRING-20",
                                                                                "fr-orange-mobicarte", 1)
    assert (promo.max_uses, promo.budget_minor, promo.currency, promo.benefit_value) == (100, 25000, "EUR", 20)
    assert (promo.offer_ids, promo.channels, promo.line_states, promo.languages) == (None, None, None, None)
    [entry] = audit(site.db, "promotion.create")
    assert (entry.actor, entry.reason) == ("staff:finance-0", "spring campaign approved")
    page = text_of(client.get(response.headers["location"]).text)
    assert "Campaign created as a draft: check who is eligible, then start it." in page
    assert "28/03/2027" in page or "2027-03-28" in page or "Mar 28, 2027" in page


def test_every_eligibility_field_and_an_amount_benefit_are_kept(site):
    client = site.staff("admin")
    response = client.post("/admin/promotions/new", data={
        **FORM, "csrf_token": csrf(client.get("/admin/promotions/new").text), "code": "", "benefit": "amount_off",
        "benefit_value": "2,50", "offer_ids": ["fr-orange-mobicarte-10", "fr-orange-mobicarte-25"],
        "channels": ["portal", "agent"], "line_states": ["grace"], "languages": ["zh_CN", "fr"],
        "first_renewal_only": "1", "stackable": "1", "max_uses": "", "budget": "", "per_line_limit": ""})
    assert response.status_code == 303
    [promo] = campaigns(site.db)
    assert (promo.benefit, promo.benefit_value, promo.code, promo.max_uses, promo.budget_minor) == (
        "amount_off", 250, None, None, None)
    assert (promo.offer_ids, promo.channels, promo.line_states, promo.languages) == (
        ["fr-orange-mobicarte-10", "fr-orange-mobicarte-25"], ["portal", "agent"], ["grace"], ["zh_CN", "fr"])
    assert (promo.first_renewal_only, promo.stackable, promo.per_line_limit) == (True, True, None)


def test_a_wrong_field_is_said_in_the_readers_language_and_nothing_is_made(site):
    english, french, chinese = site.staff("admin"), site.staff("admin", "fr"), site.staff("finance", "zh_CN")
    cases = [
        (english, {"name": " "}, "Give the campaign a name (120 characters at most)."),
        (english, {"benefit_value": "120"}, "The benefit is a percentage from 1 to 100, an amount above zero or "
                                            "1 to 365 days."),
        (english, {"ends": "2027-03-01T00:00"}, "The end must be a date and time after the start."),
        (english, {"starts": "next week"}, "Give the start as a date and time, for example 2027-03-01 00:00."),
        (english, {"timezone": "Mars/Olympus"}, "This time zone is not known; write it like Europe/Paris."),
        (english, {"code": "!"}, "A promo code has 3 to 32 letters, digits or - (for example SPRING-20)."),
        (english, {"max_uses": "0"}, "The number of uses is a whole number, at least 1."),
        (english, {"budget": "-5"}, "Write the money budget as an amount above zero, for example 500.00."),
        (english, {"currency": "", "benefit": "bonus_credit", "benefit_value": "1.00", "budget": ""},
         "Choose the currency: an amount off, bonus credit or a money budget needs one."),
        (english, {"operator_id": "nowhere"}, "Choose an operator from the list, or any."),
        (english, {"reason": ""}, "Give a reason: it is kept in the audit log."),
        (french, {"name": ""}, "Donnez un nom à la campagne (120 caractères au plus)."),
        (chinese, {"benefit_value": "0"}, "优惠值为 1 至 100 的百分比、大于零的金额或 1 至 365 天。"),
    ]
    for client, fields, said in cases:
        response = create(client, **fields)
        assert response.status_code == 422, fields
        assert said in text_of(response.text), fields
    assert campaigns(site.db) == []
    assert audit(site.db, "promotion.create") == []
    assert create(english, code="TAKEN").status_code == 303
    response = create(english, code="taken")
    assert response.status_code == 409
    assert "Another campaign has this promo code already." in text_of(response.text)
    assert len(campaigns(site.db)) == 1


def test_start_pause_and_resume_with_a_reason_each_audited(site):
    promo = make_promotion(site.db, now=site.clock(), start=False)
    client = site.staff("finance")
    path = f"/admin/promotions/{promo.id}"

    def act(action: str, reason: str = "planned"):
        return client.post(f"{path}/state", data={"action": action, "reason": reason,
                                                  "csrf_token": csrf(client.get(path).text)})

    assert 'value="start"' in client.get(path).text and 'value="pause"' not in client.get(path).text
    refused = act("start", reason=" ")
    assert refused.status_code == 422
    assert "Give a reason: it is kept in the audit log." in text_of(refused.text)
    assert act("pause").status_code == 409  # a draft cannot pause
    for action, state in (("start", "active"), ("pause", "paused"), ("resume", "active")):
        response = act(action, reason=f"why {action}")
        assert (response.status_code, response.headers["location"]) == (303, f"{path}?done={action}")
        assert campaigns(site.db)[0].state == state
    assert [(e.actor, e.reason) for e in audit(site.db, "promotion.pause")] == [("staff:finance-0", "why pause")]
    assert [(e.actor, e.reason) for e in audit(site.db, "promotion.resume")] == [("staff:finance-0", "why resume")]
    assert "Campaign resumed." in text_of(client.get(f"{path}?done=resume").text)
    assert client.get("/admin/promotions/not-an-id").status_code == 404
    assert client.get("/admin/promotions/00000000-0000-0000-0000-000000000000").status_code == 404


def test_the_campaign_page_shows_who_is_eligible_and_its_report(site):
    db, now = site.db, site.clock()
    make_line(db, msisdn="+33612345601", language="fr", now=now)
    make_line(db, msisdn="+33612345602", language="en", now=now)
    promo = make_promotion(db, now=now, name="French -20%", languages=["fr"], currency="EUR", max_uses=10)
    top_up(db, msisdn="+33612345601", offer_id="fr-orange-mobicarte-25", now=now)
    page = text_of(site.staff("admin").get(f"/admin/promotions/{promo.id}").text)
    assert "1 line matches now." in page
    assert "+336******01" in page and "+336******02" not in page
    assert "Renewals it brought 1" in page
    assert "Revenue €20.00" in page and "Cost €5.00" in page and "Average discount €5.00" in page
    assert "In the ledger's promotion expense €5.00" in page and "does not match" not in page
    assert "2027-03-01 1 €5.00 €20.00" in page
    listing = text_of(site.staff("finance").get("/admin/promotions").text)
    assert "French -20%" in listing and "1 of 10" in listing and "applies now" in listing
    french = text_of(site.staff("admin", "fr").get(f"/admin/promotions/{promo.id}").text)
    assert "Renouvellements apportés 1" in french


def test_the_list_says_when_there_is_no_campaign_and_ended_ones(site):
    client = site.staff("admin")
    assert "No campaign yet." in text_of(client.get("/admin/promotions").text)
    make_promotion(site.db, now=site.clock(), name="Winter", starts_at=site.clock() - timedelta(days=30),
                   ends_at=site.clock() - timedelta(days=1))
    listing = text_of(client.get("/admin/promotions").text)
    assert "Winter" in listing and "Ended" in listing
    with site.db.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Promotion)) == 1
