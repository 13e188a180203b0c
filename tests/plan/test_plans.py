"""Plans for real lines of the demo catalog: exact answers, the API, saving a plan as reminders, and every plan
replayed through the real top-up service and the lifecycle sweep day by day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from simkeep.core.clock import zone
from simkeep.lifecycle.tasks import run_sweep
from simkeep.notification.models import OutboxMessage
from simkeep.plan import service
from simkeep.plan.models import KeepPlan
from simkeep.promotion.models import BONUS_DAYS, PERCENT_OFF
from tests.conftest import T0
from tests.factories.lines import make_line, top_up, view
from tests.factories.promotions import make_promotion
from tests.factories.snapshot import snapshot

AWAY_UNTIL = date(2027, 9, 1)  # "I'm away until 1 Sept 2027"


def plans(db, msisdn="+33612345678", until=AWAY_UNTIL, now=T0):
    with db.transaction(write=False) as session:
        return service.plans_for(session, msisdn=msisdn, until=until, now=now)


def steps(plan):
    return [(s.day.isoformat(), s.offer_id, s.price_minor, s.state) for s in plan.steps]


def replay(db, plan, *, msisdn="+33612345678", start=T0, tz="Europe/Paris"):
    """Top up on the plan's days at the plan's instants and sweep twice a day up to the end of `until`; return
    every state the line was seen in."""
    seen = []
    by_day: dict[date, list] = {}
    for s in plan.steps:
        by_day.setdefault(s.day, []).append(s)
    day = start.astimezone(zone(tz)).date()
    while day <= plan.until:
        morning = datetime.combine(day, time(9, 59)).replace(tzinfo=zone(tz)).astimezone(UTC)
        if morning > start:
            run_sweep(db, now=morning)
            seen.append(view(db, msisdn).line.state)
        for s in by_day.get(day, []):
            result = top_up(db, msisdn=msisdn, offer_id=s.offer_id, channel="portal", now=s.at)
            assert result.topup.price_minor == s.price_minor  # charged by the same pricing rule
            assert view(db, msisdn).line.validity_ends_at == s.validity_ends_at
        night = datetime.combine(day, time(23, 59)).replace(tzinfo=zone(tz)).astimezone(UTC)
        run_sweep(db, now=night)
        seen.append(view(db, msisdn).line.state)
        day += timedelta(days=1)
    return seen


def test_free_2eur_until_1_september_the_cheapest_waits_in_suspension_and_never_barred_buys_the_6x_offer(db):
    make_line(db, operator_id="fr-free-2eur", now=T0)  # valid until 31 March, then 15 days suspended
    found = plans(db)
    cheapest, reachable = found.plans
    assert (cheapest.mode, reachable.mode) == ("cheapest", "reachable")
    assert steps(cheapest) == [("2027-04-15", "fr-free-2eur-month", 200, "suspended"),
                               ("2027-05-30", "fr-free-2eur-3x", 570, "suspended")]
    assert (cheapest.total_minor, cheapest.number_loss_on, cheapest.suspended_days) == (770, date(2027, 9, 13), 32)
    assert steps(reachable) == [("2027-03-31", "fr-free-2eur-6x", 1080, "active")]
    assert (reachable.total_minor, reachable.grace_days, reachable.suspended_days) == (1080, 0, 0)
    assert service.explain(cheapest, "en", today=found.today) == (
        "€2.00 on April 15, 2027, €5.70 on May 30, 2027: €7.70 in total.")
    assert service.explain(cheapest, "fr", today=found.today) == (
        "2,00\u00a0€ le 15 avril 2027, 5,70\u00a0€ le 30 mai 2027\u00a0: 7,70\u00a0€ au total.")
    assert service.explain(reachable, "zh_CN", today=found.today) == "2027年3月31日€10.80，共计€10.80。"
    seen = replay(db, cheapest)
    assert set(seen) == {"active", "suspended"}
    assert view(db).line.number_loss_at == datetime(2027, 9, 12, 22, 0, tzinfo=UTC)  # midnight starting 13 Sept


def test_free_2eur_the_never_barred_plan_replayed_is_never_suspended(db):
    make_line(db, operator_id="fr-free-2eur", now=T0)
    reachable = plans(db).plans[1]
    assert set(replay(db, reachable)) == {"active"}


def test_orange_mobicarte_for_18_months_two_renewals_of_5_eur_in_grace_or_six_of_35_eur_always_active(db):
    make_line(db, operator_id="fr-orange-mobicarte", now=T0)  # valid until 31 March, then 180 days in grace
    found = plans(db, until=date(2028, 9, 1))
    cheapest, active = found.plans
    assert steps(cheapest) == [("2027-09-27", "fr-orange-mobicarte-5", 500, "grace"),
                               ("2028-04-01", "fr-orange-mobicarte-5", 500, "grace")]
    assert active.mode == "active" and active.total_minor == 21000
    assert [s[1:] for s in steps(active)] == [("fr-orange-mobicarte-35", 3500, "active")] * 6
    assert steps(active)[0][0] == "2027-03-31"
    seen = replay(db, cheapest)
    assert "deactivated" not in seen and "suspended" not in seen


def test_a_campaign_inside_its_window_changes_the_plan_and_the_renewal_is_charged_that_price(db):
    make_line(db, operator_id="fr-free-2eur", now=T0)
    make_promotion(db, now=T0, name="Summer 12x -50%", benefit=PERCENT_OFF, benefit_value=50,
                   operator_id="fr-free-2eur", offer_ids=["fr-free-2eur-12x"],
                   starts_at=datetime(2027, 4, 10, 22, 0, tzinfo=UTC), ends_at=datetime(2027, 4, 20, 22, 0, tzinfo=UTC))
    found = plans(db, until=date(2028, 3, 1))
    cheapest, reachable = found.plans
    assert steps(cheapest) == [("2027-04-15", "fr-free-2eur-12x", 1020, "suspended")]
    assert cheapest.steps[0].promotions == ("Summer 12x -50%",) and cheapest.promotions_used
    assert steps(reachable) == [("2027-03-31", "fr-free-2eur-month", 200, "active"),
                                ("2027-04-20", "fr-free-2eur-12x", 1020, "active")]
    assert set(replay(db, reachable)) == {"active"}


def test_a_bonus_days_campaign_is_counted_and_replayed(db):
    make_line(db, operator_id="fr-lebara", now=T0)  # 30 days grace, 30 suspended
    make_promotion(db, now=T0, name="+60 days", benefit=BONUS_DAYS, benefit_value=60, operator_id="fr-lebara",
                   offer_ids=["fr-lebara-5"], ends_at=datetime(2027, 12, 31, 23, 0, tzinfo=UTC))
    found = plans(db, until=date(2027, 12, 1))
    cheapest = found.cheapest
    assert all(s.bonus_days == 60 for s in cheapest.steps if s.offer_id == "fr-lebara-5")
    assert steps(cheapest) == [("2027-05-30", "fr-lebara-5", 500, "suspended"),
                               ("2027-10-27", "fr-lebara-5", 500, "suspended")]
    assert [p.total_minor for p in found.plans] == [1000, 1000, 1500]  # cheapest, reachable, active
    seen = replay(db, cheapest)
    assert "deactivated" not in seen and view(db).line.validity_ends_at == cheapest.steps[-1].validity_ends_at


def test_the_api_returns_the_plan_explained_in_the_requested_language(db, client):
    make_line(db, operator_id="fr-free-2eur", now=T0)
    before = snapshot(db)
    r = client.post("/api/v1/plans", json={"msisdn": "+33612345678", "until": "2027-09-01", "language": "fr"})
    assert r.status_code == 200, r.text
    body = r.json()
    # planned from today (the real clock): the line made at T0 is valid until 31 March 2027 all the same
    assert [(s["date"], s["offer_id"], s["price"]["amount_minor"]) for s in body["plan"]["steps"]] == [
        ("2027-04-15", "fr-free-2eur-month", 200), ("2027-05-30", "fr-free-2eur-3x", 570)]
    assert body["plan"]["total"] == {"amount_minor": 770, "currency": "EUR"}
    assert body["plan"]["explanation"] == "2,00\u00a0€ le 15 avril 2027, 5,70\u00a0€ le 30 mai 2027\u00a0: 7,70\u00a0€ au total."
    assert [a["mode"] for a in body["alternatives"]] == ["reachable"]
    assert snapshot(db) == before  # planning changes nothing


@pytest.mark.parametrize(("until", "status", "code"), [("2026-01-01", 422, "plan_date_invalid"),
                                                        ("2040-01-01", 422, "plan_date_invalid")])
def test_the_api_refuses_a_date_out_of_range(db, client, until, status, code):
    make_line(db, operator_id="fr-free-2eur", now=T0)
    r = client.post("/api/v1/plans", json={"msisdn": "+33612345678", "until": until})
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)


def test_the_api_says_no_plan_for_a_lost_number_and_404_for_an_unknown_one(db, client):
    r = client.post("/api/v1/plans", json={"msisdn": "+33699999999", "until": "2027-09-01"})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "line_not_found")


def test_saving_a_plan_puts_one_reminder_per_renewal_day_in_the_outbox_once(db):
    make_line(db, operator_id="fr-free-2eur", now=T0)
    found = plans(db)
    for _ in range(2):
        with db.transaction() as session:
            saved = service.save_as_reminders(session, line=found.line, operator=found.operator,
                                              plan=found.cheapest, now=T0, renew_url="https://x.test/r/1")
    with db.transaction(write=False) as session:
        rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "plan.renewal")
                                    .order_by(OutboxMessage.next_attempt_at)))
        assert session.scalar(select(KeepPlan).where(KeepPlan.id == saved.id)).reminders == 2
    assert [(m.next_attempt_at, m.payload["offer_id"], m.payload["amount"]["amount_minor"]) for m in rows] == [
        (datetime(2027, 4, 15, 8, 0, tzinfo=UTC), "fr-free-2eur-month", 200),
        (datetime(2027, 5, 30, 8, 0, tzinfo=UTC), "fr-free-2eur-3x", 570)]
