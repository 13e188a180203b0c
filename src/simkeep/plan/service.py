"""Keep my number until DATE for a line: read what the planner needs, plan, explain, and save a plan as reminders.

The campaigns a plan counts on are those known now (started, not over, the window of each respected day by day);
their budgets are not promised: a campaign that runs out before its day is not applied then (the plan says so)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from simkeep.catalog import service as catalog
from simkeep.catalog.models import Operator
from simkeep.core.clock import zone
from simkeep.core.errors import NoPlan, PlanDateInvalid
from simkeep.core.ids import new_id
from simkeep.line import service as lines
from simkeep.line.models import Line
from simkeep.notification import outbox
from simkeep.notification.templates import plan_sentence
from simkeep.plan import planner, repository
from simkeep.plan.models import KeepPlan
from simkeep.plan.planner import NumberAlreadyLost, Plan
from simkeep.promotion import service as promotions

MAX_YEARS = 10
REMINDER_PLAN_DAYS = 365  # reminders name the cheapest way to keep the number for a year


@dataclass(frozen=True, slots=True)
class Plans:
    line: Line
    operator: Operator
    today: date
    until: date
    plans: list[Plan]  # the cheapest first, then the ways that keep the line reachable or active when they differ

    @property
    def cheapest(self) -> Plan:
        return self.plans[0]


def inputs(session: Session, operator: Operator) -> tuple[planner.Rules, list[planner.OfferInfo]]:
    offers = [planner.OfferInfo(o.id, o.price_minor, o.bonus_minor, o.validity_days, o.periods)
              for o in catalog_offers(session, operator.id)]
    return planner.Rules.of(operator), offers


def catalog_offers(session: Session, operator_id: str):
    for op, offers in catalog.list_operators(session):
        if op.id == operator_id:
            return sorted(offers, key=lambda o: (o.price_minor, o.id))
    return []


def check_until(until: date, today: date) -> None:
    if until <= today or until > today + timedelta(days=366 * MAX_YEARS):
        raise PlanDateInvalid()


def plans_for(session: Session, *, msisdn: str, until: date, now: datetime, channel: str = "portal") -> Plans:
    line = lines.find_line(session, msisdn)
    operator = catalog.get_operator(session, line.operator_id)
    today = now.astimezone(zone(operator.timezone)).date()
    check_until(until, today)
    rules, offers = inputs(session, operator)
    campaigns = [promotions.as_campaign(p) for p in repository.known_campaigns(session, now)]
    has_renewed = repository.has_topups(session, line.id)
    used = repository.uses_by_line(session, line.id)
    facts = planner.LineFacts(language=line.language, has_renewed=has_renewed,
                              uses=tuple(used.items()))
    if line.state not in ("active", "grace", "suspended"):
        raise NoPlan()
    try:
        found = planner.plans(rules=rules, offers=offers, validity_ends_at=line.validity_ends_at, now=now,
                              until=until, campaigns=campaigns, facts=facts, channel=channel)
    except NumberAlreadyLost:
        raise NoPlan() from None
    if not found:
        raise NoPlan()
    return Plans(line, operator, today, until, found)


def cheapest_for_reminder(session: Session, *, line: Line, operator: Operator, now: datetime,
                          days: int, cache: dict) -> dict | None:
    """The cheapest plan keeping the number `days` ahead, as a reminder's payload names it, or None. `cache` is
    shared by one sweep batch (the operator's offers and the campaigns, read once); the plans themselves are kept
    for the process (`_REMINDER_PLANS`), keyed by everything they depend on, so a sweep of millions of lines plans
    once per operator, validity end, day and language rather than once per batch."""
    if days <= 0:
        return None
    today = now.astimezone(zone(operator.timezone)).date()
    if operator.id not in cache:
        cache[operator.id] = inputs(session, operator)
    if "campaigns" not in cache:
        # Budgets are not promised by a plan, so what is left of them is not part of what the plan depends on.
        cache["campaigns"] = tuple(replace(promotions.as_campaign(p), uses_left=None, budget_left_minor=None)
                                   for p in repository.known_campaigns(session, now))
    rules, offers = cache[operator.id]
    key = (rules, tuple(offers), line.validity_ends_at, today, now.date(), line.language, cache["campaigns"], days)
    if key not in _REMINDER_PLANS:
        try:
            found = planner.plan(rules=rules, offers=offers, validity_ends_at=line.validity_ends_at, now=now,
                                 until=today + timedelta(days=days), campaigns=list(cache["campaigns"]),
                                 facts=planner.LineFacts(language=line.language), channel="portal")
        except NumberAlreadyLost:
            found = None
        if len(_REMINDER_PLANS) >= _REMINDER_PLANS_KEPT:
            _REMINDER_PLANS.pop(next(iter(_REMINDER_PLANS)))  # the oldest first
        _REMINDER_PLANS[key] = None if found is None else payload_of(found, today)
    return _REMINDER_PLANS[key]


_REMINDER_PLANS: dict = {}
_REMINDER_PLANS_KEPT = 4096


def payload_of(plan: Plan, today: date | None = None) -> dict:
    return {"until": plan.until.isoformat(), **({"today": today.isoformat()} if today else {}), "currency": plan.currency, "total_minor": plan.total_minor,
            "steps": [{"date": s.day.isoformat(), "price_minor": s.price_minor, "offer_id": s.offer_id}
                      for s in plan.steps]}


def explain(plan: Plan, language: str, *, today: date, msisdn: str | None = None) -> str:
    """"€10.00 today, €10.00 on 3 March 2027, €30.00 on 1 June 2027: €50.00 in total." in the reader's language."""
    return plan_sentence({**payload_of(plan), "msisdn": msisdn}, language, today=today)


def save_as_reminders(session: Session, *, line: Line, operator: Operator, plan: Plan, now: datetime,
                      renew_url: str | None = None) -> KeepPlan:
    """Store the plan and put one reminder message per renewal day in the outbox, due at 10:00 local that day
    (quiet hours respected). Saving the same plan again stores it again but sends each day's reminder once."""
    saved = KeepPlan(id=new_id(), line_id=line.id, mode=plan.mode, until_on=plan.until, currency=plan.currency,
                     total_minor=plan.total_minor, steps=[s.to_dict() for s in plan.steps],
                     reminders=0, created_at=now)
    messages = []
    for step in plan.steps:
        due = max(step.at, now)
        payload = {"msisdn": line.msisdn, "timezone": operator.timezone, "offer_id": step.offer_id,
                   "date": step.day.isoformat(), "plan_id": str(saved.id),
                   "amount": {"amount_minor": step.price_minor, "currency": plan.currency}}
        if renew_url:
            payload["renew_url"] = renew_url
        msg = outbox.Message(dedup_key=f"plan:{line.id}:{step.day.isoformat()}:{step.offer_id}", topic="plan.renewal",
                             channel=outbox.SMS, recipient=line.msisdn, language=line.language, payload=payload,
                             line_id=line.id, quiet_tz=operator.timezone)
        messages.append((due, msg))
    repository.add_plan(session, saved)
    for due, msg in messages:
        outbox.enqueue(session, [msg], now=due)
    saved.reminders = len(messages)
    return saved


def saved_plans(session: Session, line: Line) -> list[KeepPlan]:
    return repository.plans_of(session, line.id)
