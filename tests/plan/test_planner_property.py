"""The planner against an exhaustive search over small horizons (random operators, offers and campaigns).

The search knows nothing of the planner's day indices or shortcuts: it tries every offer on every day at the real
renewal instants with `line.rules.extended_validity`, `line.rules.stages` and `promotion.pricing.price`, and keeps
the best (total, renewals, money paid early, days paid early) for every reachable (day, validity end, renewal
facts)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simkeep.catalog.models import STACK_EXTEND, STACK_MAX, OperatorRules
from simkeep.core.clock import zone
from simkeep.core.errors import ValidityCapReached
from simkeep.line import rules as line_rules
from simkeep.plan import planner
from simkeep.promotion import pricing
from simkeep.promotion.models import AMOUNT_OFF, BONUS_DAYS, PERCENT_OFF

TZ = "Europe/Paris"
DAY0 = date(2027, 3, 22)  # the horizon crosses the change to summer time (28 March 2027)


def local(d: int, at: time = time(0)) -> datetime:
    return datetime.combine(DAY0 + timedelta(days=d), at).replace(tzinfo=zone(TZ)).astimezone(UTC)


@st.composite
def cases(draw):
    g = draw(st.integers(0, 3))
    s = draw(st.integers(0, 3))
    cap = draw(st.integers(3, 14))
    op = OperatorRules(id="op", country="FR", currency="EUR", timezone=TZ, initial_validity_days=30, grace_days=g,
                       suspended_days=s, quarantine_days=45, max_validity_days=cap, reminder_offsets=[0],
                       validity_stacking=draw(st.sampled_from([STACK_EXTEND, STACK_MAX])), forfeit_balance_on=None)
    n = draw(st.integers(1, 3))
    offers = [planner.OfferInfo(f"o{i}", draw(st.integers(0, 9)) * 100, 0, draw(st.integers(1, 6)))
              for i in range(n)]
    campaigns = []
    for i in range(draw(st.integers(0, 2))):
        a = draw(st.integers(0, 10))
        b = draw(st.integers(a + 1, 13))
        benefit = draw(st.sampled_from([PERCENT_OFF, AMOUNT_OFF, BONUS_DAYS]))
        value = {PERCENT_OFF: draw(st.integers(10, 100)), AMOUNT_OFF: draw(st.integers(1, 6)) * 100,
                 BONUS_DAYS: draw(st.integers(1, 4))}[benefit]
        campaigns.append(pricing.Campaign(
            id=uuid.UUID(int=i + 1), name=f"c{i}", code=None,
            starts_at=local(a, time(draw(st.sampled_from([0, 9, 11])))), ends_at=local(b),
            operator_id=draw(st.sampled_from([None, "op"])),
            offer_ids=draw(st.sampled_from([None, ("o0",)])), channels=None,
            line_states=draw(st.sampled_from([None, ("grace",), ("active",), ("grace", "suspended")])),
            languages=None, first_renewal_only=draw(st.booleans()),
            per_line_limit=draw(st.sampled_from([None, 1, 2])), benefit=benefit, benefit_value=value,
            currency="EUR", stackable=draw(st.booleans())))
    v0 = draw(st.integers(-(g + s) + 1, 6))
    horizon = draw(st.integers(0, 12))
    now = local(0, time(draw(st.sampled_from([0, 8, 10, 23]))))
    return op, offers, campaigns, v0, horizon, now, draw(st.booleans()), draw(st.sampled_from(planner.MODES))


def brute_force(op, offers, campaigns, v0, horizon, now, has_renewed, mode):
    end0 = local(v0)
    deadline = local(horizon + 1)  # the number must be kept through the last day

    def limit_of(end):
        stages = line_rules.stages(op, end)
        return {planner.CHEAPEST: stages.number_loss_at, planner.REACHABLE: stages.suspended_at,
                planner.ACTIVE: stages.validity_ends_at}[mode]

    def at(d):
        return now if d == 0 else local(d, time(10))

    limited = [c.id for c in campaigns if c.per_line_limit is not None]

    @cache
    def best(d, end, first, uses):
        """Cheapest (cost, moves) from day d before its renewals, or None."""
        if limit_of(end) >= deadline:
            return (0, 0, 0, 0), ()
        options = []
        now_d = at(d)
        stages = line_rules.stages(op, end)
        state = stages.state_at(now_d)
        if now_d < stages.number_loss_at:
            for o in offers:
                used = dict(zip(limited, uses, strict=True))
                facts = pricing.Facts(operator_id="op", state=state, language="en", first_renewal=lambda: first,
                                      uses_of=lambda cid, used=used: used.get(cid, 0))
                p = pricing.price(list_minor=o.list_minor, offer_bonus_minor=0, validity_days=o.validity_days,
                                  currency="EUR", offer_id=o.id, channel="portal", now=now_d, facts=facts,
                                  campaigns=campaigns)
                try:
                    new_end = line_rules.extended_validity(op, end, o.validity_days, now_d, bonus_days=p.bonus_days)
                except ValidityCapReached:
                    continue
                if new_end <= end:
                    continue
                ids = {a.promotion_id for a in p.applied}
                new_uses = tuple(n + (str(c) in ids) for c, n in zip(limited, uses, strict=True))
                rest = best(d, new_end, False, new_uses)
                if rest is not None:
                    late = horizon - d
                    c = rest[0]
                    options.append(((c[0] + p.price_minor, c[1] + 1, c[2] + p.price_minor * late, c[3] + late),
                                    ((d, o.id, p.price_minor),) + rest[1]))
        if d < horizon and at(d + 1) < limit_of(end):
            rest = best(d + 1, end, first, uses)
            if rest is not None:
                options.append(rest)
        return min(options, default=None)

    return best(0, end0, not has_renewed, tuple(0 for _ in limited))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_plan_is_never_beaten_by_an_exhaustive_search_and_keeps_the_number(case):
    op, offers, campaigns, v0, horizon, now, has_renewed, mode = case
    rules = planner.Rules.of(op)
    until = DAY0 + timedelta(days=horizon)
    found = planner.plan(rules=rules, offers=offers, validity_ends_at=local(v0), now=now, until=until,
                         campaigns=campaigns, facts=planner.LineFacts(language="en", has_renewed=has_renewed),
                         mode=mode)
    expected = brute_force(op, offers, campaigns, v0, horizon, now, has_renewed, mode)
    if expected is None:
        assert found is None
        return
    assert found is not None
    late = [(horizon - (s.day - DAY0).days, s.price_minor) for s in found.steps]
    # the same (total, renewals, money paid early, days paid early): the cheapest, then the fewest, then the latest
    assert (found.total_minor, len(found.steps), sum(d * p for d, p in late), sum(d for d, _ in late)) == expected[0]
    # replayed with the real rules, the plan keeps the number through `until` (and in its mode)
    end = local(v0)
    for s in found.steps:
        assert line_rules.stages(op, end).state_at(s.at) in ("active", "grace", "suspended")
        end = line_rules.extended_validity(op, end, s.validity_days, s.at, bonus_days=s.bonus_days)
        assert end == s.validity_ends_at
    assert line_rules.stages(op, end).number_loss_at >= local(horizon + 1)
    assert found.number_loss_on == (line_rules.stages(op, end).number_loss_at.astimezone(zone(TZ))).date()
