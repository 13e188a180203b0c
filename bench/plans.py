"""Keep my number until DATE: planning a two-year horizon for every operator of the demo catalog.

Pure, in process (the planner reads nothing while planning). For each operator, a line made today (its starter
validity) and a date two years ahead: the exact plan (`planner.plan`, cheapest mode, and `planner.plans`, the
cheapest and its never-barred alternatives), without campaigns and with three campaigns (a percentage off the
longest offer, an amount off in grace, bonus days) whose windows open and close inside the horizon. The raw baseline
in the same run is a plain greedy plan: wait for the last day that keeps the number, then buy the offer with the
lowest price per day; `greedy_overpay` says how much more it costs than the exact plan over the whole catalog.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from bench.common import Sizes, note, report
from simkeep.catalog.service import read_catalog
from simkeep.core.clock import add_days, end_of_local_day, zone
from simkeep.core.money import Money
from simkeep.plan import planner
from simkeep.promotion import pricing
from simkeep.promotion.models import AMOUNT_OFF, BONUS_DAYS, PERCENT_OFF

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _catalog():
    out = []
    for op in read_catalog().operators:
        rules = planner.Rules(op.id, op.currency, op.timezone, op.grace_days.value, op.suspended_days.value,
                              op.max_validity_days.value, op.validity_stacking.value)
        offers = [planner.OfferInfo(o.id, Money.parse(o.price.value, op.currency).minor,
                                    Money.parse(o.bonus.value, op.currency).minor, o.validity_days.value,
                                    o.periods.value if o.periods else 1) for o in op.offers]
        end = end_of_local_day(add_days(NOW, op.initial_validity_days.value, op.timezone), op.timezone)
        out.append((rules, offers, end))
    return out


def _campaigns(rules: planner.Rules, offers: list[planner.OfferInfo]) -> list[pricing.Campaign]:
    longest = max(offers, key=lambda o: o.validity_days)

    def c(n, benefit, value, start, days, **kw):
        return pricing.Campaign(id=uuid.UUID(int=n), name=f"c{n}", code=None, starts_at=NOW + timedelta(days=start),
                                ends_at=NOW + timedelta(days=start + days), operator_id=rules.operator_id,
                                offer_ids=kw.get("offer_ids"), channels=None, line_states=kw.get("line_states"),
                                languages=None, first_renewal_only=False, per_line_limit=kw.get("limit"),
                                benefit=benefit, benefit_value=value, currency=rules.currency, stackable=False)
    return [c(1, PERCENT_OFF, 30, 60, 30, offer_ids=(longest.id,)),
            c(2, AMOUNT_OFF, min(o.list_minor for o in offers) // 2, 200, 90, line_states=("grace", "suspended"),
              limit=1),
            c(3, BONUS_DAYS, 30, 400, 60)]


def greedy(rules: planner.Rules, offers: list[planner.OfferInfo], end: datetime, until) -> int:
    """Wait for the last day that keeps the number, buy the cheapest offer per day, again until `until`."""
    tz = rules.timezone
    day0 = NOW.astimezone(zone(tz)).date()
    horizon = (until - day0).days
    sigma = rules.grace_days + rules.suspended_days
    best = min(offers, key=lambda o: (o.list_minor / o.validity_days, o.list_minor))
    v = planner.day_index(end, day0, tz)
    total = 0
    while v + sigma <= horizon:
        d = v + sigma - 1
        v = max(v, d + best.validity_days + 1) if rules.validity_stacking == "max_of_current_and_new" else (
            v + best.validity_days if d < v else d + best.validity_days + 1)
        total += best.list_minor
    return total


def _time(work, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        work()
        out.append((time.perf_counter() - t) * 1000)
    return out


def bench_plans(sizes: Sizes) -> None:
    repeat = 3 if sizes.label == "quick" else 10
    catalog = _catalog()
    until = (NOW + timedelta(days=730)).date()
    note(f"plans: {len(catalog)} operators, a two-year horizon ({until}), {repeat} rounds")
    exact, alternatives, promos, raw = [], [], [], []
    exact_total = greedy_total = 0
    for rules, offers, end in catalog:
        campaigns = _campaigns(rules, offers)
        args = {"rules": rules, "offers": offers, "validity_ends_at": end, "now": NOW, "until": until}
        exact += _time(lambda a=args: planner.plan(**a), repeat)
        alternatives += _time(lambda a=args: planner.plans(**a), repeat)
        promos += _time(lambda a=args, c=campaigns: planner.plan(**a, campaigns=c), repeat)
        raw += _time(lambda r=rules, o=offers, e=end: greedy(r, o, e, until), repeat)
        found = planner.plan(rules=rules, offers=offers, validity_ends_at=end, now=NOW, until=until)
        assert found is not None
        exact_total += found.total_minor
        greedy_total += greedy(rules, offers, end, until)
    per_catalog = statistics.median(exact) * len(catalog)
    report("plan_2y_p50_ms", round(statistics.median(exact), 2), "ms per operator (cheapest plan)")
    report("plan_2y_max_ms", round(max(exact), 2), "ms (slowest operator)")
    report("plan_2y_catalog_ms", round(per_catalog, 1), f"ms for the {len(catalog)} operators")
    report("plan_2y_with_alternatives_p50_ms", round(statistics.median(alternatives), 2), "ms (all modes)")
    report("plan_2y_three_campaigns_p50_ms", round(statistics.median(promos), 2), "ms")
    report("plan_2y_greedy_p50_ms", round(statistics.median(raw), 3), "ms (raw baseline: greedy)")
    report("plan_2y_vs_greedy_ratio", round(statistics.median(exact) / max(statistics.median(raw), 1e-6), 1),
           "x greedy time")
    report("greedy_overpay", round(greedy_total / exact_total, 2), "x the exact plans' total (whole catalog)")
