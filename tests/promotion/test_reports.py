"""promotion.reports: who a campaign applies to now (the preview), and what it cost and brought (the report),
checked against the ledger's promotion expense, with stacked campaigns sharing one renewal."""

from __future__ import annotations

from datetime import date, timedelta

from simkeep.ledger import service as ledger
from simkeep.promotion import reports
from simkeep.promotion import service as promotions
from simkeep.promotion.models import Promotion
from tests.conftest import T0
from tests.factories.lines import make_line, top_up
from tests.factories.promotions import make_promotion
from tests.web import ledger_ok

NOW = T0 + timedelta(days=1)  # 2 March 2027, 10:00 in Paris
OFFER = "fr-orange-mobicarte-25"  # €25, €5 bonus


def preview(db, promotion: Promotion, at=NOW) -> reports.Preview:
    with db.transaction(write=False) as session:
        return reports.preview(session, promotions.get(session, promotion.id), now=at)


def report(db, promotion: Promotion) -> reports.Report:
    with db.transaction(write=False) as session:
        return reports.report(session, promotions.get(session, promotion.id))


def test_the_preview_counts_live_lines_by_operator_language_first_renewal_and_limit(db):
    make_line(db, msisdn="+33612345601", language="fr", now=T0)
    make_line(db, msisdn="+33612345602", language="fr", now=T0)
    make_line(db, msisdn="+33612345603", language="en", now=T0)
    make_line(db, msisdn="+33612345604", language="fr", operator_id="fr-sfr-la-carte", now=T0)
    welcome = make_promotion(db, now=NOW, name="Welcome", operator_id="fr-orange-mobicarte", languages=["fr"],
                             first_renewal_only=True, offer_ids=[OFFER], channels=["portal"], code="hello")
    seen = preview(db, welcome)
    assert seen == reports.Preview(total=2, by_state={"active": 2, "grace": 0, "suspended": 0},
                                   samples=["+336******01", "+336******02"],
                                   decided_at_renewal=("offer", "channel", "code"))
    top_up(db, msisdn="+33612345601", offer_id="fr-orange-mobicarte-5", now=NOW)  # no longer a first renewal
    assert (preview(db, welcome).total, preview(db, welcome).samples) == (1, ["+336******02"])
    # Any line that can renew, of any operator: all four, until a line uses up its per-line limit.
    anyone = make_promotion(db, now=NOW, name="Anyone", benefit="bonus_days", benefit_value=5, per_line_limit=1)
    assert preview(db, anyone).total == 4
    top_up(db, msisdn="+33612345603", offer_id="fr-orange-mobicarte-5", now=NOW)
    assert preview(db, anyone) == reports.Preview(
        total=3, by_state={"active": 3, "grace": 0, "suspended": 0},
        samples=["+336******01", "+336******02", "+336******04"], decided_at_renewal=())


def test_the_preview_reads_line_states_and_leaves_out_lost_numbers(db):
    make_line(db, msisdn="+33612345601", now=T0)  # valid until the end of 31 March, Paris
    in_grace = make_promotion(db, now=NOW, name="Come back", line_states=["grace"])
    assert preview(db, in_grace).total == 0
    # The sweep is not run here: the preview reads the state the lines are in.
    assert preview(db, in_grace, at=T0 + timedelta(days=3650)).by_state == {"grace": 0}


def test_the_report_counts_uses_cost_revenue_and_the_ledger_share_of_each_stacked_campaign(db):
    for i in range(3):
        make_line(db, msisdn=f"+3361234560{i}", now=T0)
    spring = make_promotion(db, now=NOW, name="Spring -20%", benefit_value=20, max_uses=2, currency="EUR")
    extra = make_promotion(db, now=NOW, name="+€1", benefit="bonus_credit", benefit_value=100, currency="EUR",
                           stackable=True)
    expense_account = ledger.system_account_id(ledger.PROMOTION_EXPENSE, "EUR")
    with db.transaction(write=False) as session:
        expense_before = ledger.account_balance(session, expense_account)
    top_up(db, msisdn="+33612345600", offer_id=OFFER, now=NOW)  # 2 March in Paris
    top_up(db, msisdn="+33612345601", offer_id=OFFER, now=NOW + timedelta(hours=14))  # 00:00 on 3 March in Paris
    top_up(db, msisdn="+33612345602", offer_id=OFFER, now=NOW + timedelta(hours=15))  # Spring's budget is used up
    got = report(db, spring)
    assert (got.uses, got.held, got.renewals) == (2, 0, 2)
    assert (got.cost_minor, got.discount_minor, got.bonus_minor, got.cashback_minor) == (1000, 1000, 0, 0)
    assert (got.revenue_minor, got.list_minor, got.average_discount_minor) == (4000, 5000, 500)
    assert (got.ledger_cost_minor, got.ledger_matches) == (1000, True)
    assert [(d.day, d.uses, d.cost_minor, d.revenue_minor) for d in got.days] == [
        (date(2027, 3, 2), 1, 500, 2000), (date(2027, 3, 3), 1, 500, 2000)]
    bonus = report(db, extra)
    assert (bonus.uses, bonus.cost_minor, bonus.bonus_minor, bonus.discount_minor) == (3, 300, 300, 0)
    assert (bonus.revenue_minor, bonus.list_minor, bonus.average_discount_minor) == (4000 + 2500, 7500, 0)
    assert (bonus.ledger_cost_minor, bonus.ledger_matches) == (300, True)
    # The ledger's promotion expense: the offer's €5 bonus three times, Spring's €10 and +€1's €3.
    with db.transaction(write=False) as session:
        assert ledger.account_balance(session, expense_account) - expense_before == -(3 * 500 + 1000 + 300)
    assert ledger_ok(db)


def test_a_campaign_never_used_reports_zeros(db):
    days = make_promotion(db, now=NOW, name="+10 days", benefit="bonus_days", benefit_value=10)
    got = report(db, days)
    assert (got.currency, got.uses, got.cost_minor, got.ledger_cost_minor, got.days) == (None, 0, 0, 0, [])
    assert got.average_discount_minor == 0 and got.ledger_matches
