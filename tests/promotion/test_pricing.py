"""The pricing rule on its own: eligibility, benefits, stacking, rounding."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from simkeep.promotion.pricing import Campaign, Facts, percent_of, price

NOW = datetime(2027, 3, 1, 10, tzinfo=UTC)


def campaign(**kw) -> Campaign:
    base = dict(id=uuid.uuid4(), name="c", code=None, starts_at=NOW - timedelta(days=1),
                ends_at=NOW + timedelta(days=1), operator_id=None, offer_ids=None, channels=None, line_states=None,
                languages=None, first_renewal_only=False, per_line_limit=None, benefit="percent_off",
                benefit_value=10, currency=None, stackable=False)
    return Campaign(**(base | kw))


def facts(state="active", language="fr", first=False, uses=0) -> Facts:
    return Facts(operator_id="fr-orange-mobicarte", state=state, language=language, first_renewal=lambda: first,
                 uses_of=lambda _pid: uses)


def quote(campaigns, *, f=None, channel="portal", code=None, fixed=False, list_minor=1000):
    return price(list_minor=list_minor, offer_bonus_minor=0, validity_days=30, currency="EUR",
                 offer_id="fr-orange-mobicarte-10", channel=channel, now=NOW, facts=f or facts(),
                 campaigns=campaigns, code=code, fixed_price=fixed)


def test_no_campaign_is_list_price():
    p = quote([])
    assert (p.list_minor, p.discount_minor, p.price_minor, p.bonus_minor, p.bonus_days, p.applied) == (1000, 0, 1000, 0, 0, ())


def test_the_best_single_exclusive_campaign_wins_and_stackables_add():
    ten, twenty = campaign(name="10%"), campaign(name="20%", benefit_value=20)
    days = campaign(name="+7 days", benefit="bonus_days", benefit_value=7, stackable=True)
    p = quote([ten, twenty, days])
    assert [a.name for a in p.applied] == ["20%", "+7 days"]
    assert (p.price_minor, p.discount_minor, p.bonus_days) == (800, 200, 7)


def test_a_bonus_day_is_worth_a_day_of_the_offer():
    # 10 days of a 30-day €10 offer (€3.33) beat €3 off; €4 off beats them.
    days = campaign(name="days", benefit="bonus_days", benefit_value=10)
    assert [a.name for a in quote([days, campaign(name="3€", benefit="amount_off", benefit_value=300, currency="EUR")]).applied] == ["days"]
    assert [a.name for a in quote([days, campaign(name="4€", benefit="amount_off", benefit_value=400, currency="EUR")]).applied] == ["4€"]


@pytest.mark.parametrize(("kw", "f", "channel", "code", "applies"), [
    ({"code": "SPRING"}, None, "portal", " spring ", True),
    ({"code": "SPRING"}, None, "portal", None, False),
    ({"channels": ("agent",)}, None, "portal", None, False),
    ({"line_states": ("grace",)}, facts(state="grace"), "portal", None, True),
    ({"line_states": ("grace",)}, facts(state="active"), "portal", None, False),
    ({"languages": ("zh_CN",)}, facts(language="fr"), "portal", None, False),
    ({"first_renewal_only": True}, facts(first=True), "portal", None, True),
    ({"first_renewal_only": True}, facts(first=False), "portal", None, False),
    ({"per_line_limit": 1}, facts(uses=1), "portal", None, False),
    ({"per_line_limit": 2}, facts(uses=1), "portal", None, True),
    ({"operator_id": "fr-sfr-la-carte"}, None, "portal", None, False),
    ({"offer_ids": ("fr-orange-mobicarte-10",)}, None, "portal", None, True),
    ({"starts_at": NOW + timedelta(seconds=1)}, None, "portal", None, False),
    ({"ends_at": NOW}, None, "portal", None, False),
])
def test_eligibility(kw, f, channel, code, applies):
    assert bool(quote([campaign(**kw)], f=f, channel=channel, code=code).applied) is applies


def test_a_fixed_price_takes_bonuses_but_no_discount():
    off, bonus = campaign(name="off"), campaign(name="bonus", benefit="bonus_credit", benefit_value=200, currency="EUR")
    p = quote([off, bonus], fixed=True)
    assert ([a.name for a in p.applied], p.price_minor, p.bonus_minor) == (["bonus"], 1000, 200)


def test_discounts_never_go_below_zero_and_round_half_up():
    assert quote([campaign(benefit="amount_off", benefit_value=5000, currency="EUR")]).price_minor == 0
    assert percent_of(999, 15) == 150 and percent_of(999, 5) == 50 and percent_of(10, 15) == 2
    assert quote([campaign(benefit_value=15)], list_minor=999).price_minor == 849


def test_cashback_is_counted_apart_from_the_price():
    p = quote([campaign(benefit="cashback_percent", benefit_value=5)])
    assert (p.price_minor, p.cashback_minor, p.applied[0].cost_minor) == (1000, 50, 50)


def test_a_campaign_with_a_currency_stays_in_it():
    # A euro campaign (its budget in euro cents) never prices a Hong Kong renewal, whatever its benefit.
    for benefit in ("percent_off", "bonus_days", "cashback_percent", "amount_off"):
        c = campaign(benefit=benefit, currency="HKD")
        assert quote([c]).applied == ()
    assert quote([campaign(currency="EUR")]).price_minor == 900
