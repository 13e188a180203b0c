"""Keep my number until DATE: the cheapest sequence of renewals, exact (dynamic programming over days).

Pure: the caller reads the line, its operator's rules, the offers and the campaigns known now. Days are counted in
the operator's zone from today (day 0). A validity end is a local midnight, written as the index of the day it
starts (`v`): the line is valid on the days before `v`, in grace from day `v`, suspended from `v + grace`, and the
number is lost (deactivated) at the start of day `v + grace + suspended`. A renewal on day `d` happens at `now` on
day 0 and at 10:00 local (the reminders' hour) on later days; its price comes from `promotion.pricing.price` with
the campaigns live at that instant, its new validity end follows `line.rules.extended_validity` (both stacking
rules, end of the local day, the validity cap, bonus days up to the cap).

"Keeps the number until DATE" means the number-loss day is after DATE. Three ways to keep it, each exact:
- `cheapest`: the line may go into grace (receive-only) and suspension (barred) between renewals;
- `reachable`: never suspended, calls and texts still come in (grace allowed);
- `active`: never in grace nor suspended.
Ties: fewer renewals, then money paid later.

The search: states (v, renewal facts) carried day by day; a renewal moves a state forward. Exact reductions only:
an active line on the extension rule gains nothing by renewing today rather than tomorrow when tomorrow's prices are
today's and no bonus days are on offer (the same renewals tomorrow end on the same days, under a later cap); a
lapsed line on the extension rule gets `d + days + 1` whatever its old end, so only its cheapest state renews;
on the max rule (no campaign asking for a line state) a later renewal ends later for the same price, which is never
worse there."""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from simkeep.catalog.models import STACK_MAX
from simkeep.core.clock import zone
from simkeep.promotion import pricing
from simkeep.promotion.models import BONUS_DAYS

CHEAPEST, REACHABLE, ACTIVE = "cheapest", "reachable", "active"
MODES = (CHEAPEST, REACHABLE, ACTIVE)
RENEW_LOCAL_TIME = time(10, 0)
_GRACE, _SUSPENDED, _ACTIVE_STATE = "grace", "suspended", "active"


@dataclass(frozen=True, slots=True)
class Rules:
    operator_id: str
    currency: str
    timezone: str
    grace_days: int
    suspended_days: int
    max_validity_days: int
    validity_stacking: str

    @classmethod
    def of(cls, operator) -> Rules:
        return cls(operator.id, operator.currency, operator.timezone, operator.grace_days, operator.suspended_days,
                   operator.max_validity_days, operator.validity_stacking)


@dataclass(frozen=True, slots=True)
class OfferInfo:
    id: str
    list_minor: int
    bonus_minor: int
    validity_days: int
    periods: int = 1


@dataclass(frozen=True, slots=True)
class LineFacts:
    """What pricing asks about the line, as known now."""

    language: str = "en"
    has_renewed: bool = True  # an earlier top-up: no first-renewal campaign applies
    uses: tuple[tuple[object, int], ...] = ()  # earlier uses of campaigns with a per-line limit


@dataclass(frozen=True, slots=True)
class Step:
    day: date
    at: datetime
    offer_id: str
    list_minor: int
    price_minor: int
    validity_days: int
    periods: int
    bonus_days: int
    state: str  # the line's state when renewed: active, grace or suspended
    validity_ends_on: date  # the last valid day
    validity_ends_at: datetime
    promotions: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"date": self.day.isoformat(), "at": self.at.isoformat(), "offer_id": self.offer_id,
                "list_minor": self.list_minor, "price_minor": self.price_minor, "validity_days": self.validity_days,
                "periods": self.periods, "bonus_days": self.bonus_days, "state": self.state,
                "validity_ends_on": self.validity_ends_on.isoformat(),
                "validity_ends_at": self.validity_ends_at.isoformat(), "promotions": list(self.promotions)}


@dataclass(frozen=True, slots=True)
class Plan:
    mode: str
    until: date
    currency: str
    steps: tuple[Step, ...]
    number_loss_on: date  # the first day the number would be lost after the plan
    grace_days: int  # days between today and DATE the line is receive-only
    suspended_days: int  # days between today and DATE the line is barred
    promotions_used: bool = False

    @property
    def total_minor(self) -> int:
        return sum(s.price_minor for s in self.steps)

    def same_as(self, other: Plan) -> bool:
        return [(s.day, s.offer_id) for s in self.steps] == [(s.day, s.offer_id) for s in other.steps]

    def to_dict(self) -> dict:
        return {"mode": self.mode, "until": self.until.isoformat(), "currency": self.currency,
                "total_minor": self.total_minor, "steps": [s.to_dict() for s in self.steps],
                "number_loss_on": self.number_loss_on.isoformat(), "grace_days": self.grace_days,
                "suspended_days": self.suspended_days, "promotions_used": self.promotions_used}


class NumberAlreadyLost(Exception):
    pass


@dataclass(slots=True)
class _Node:
    cost: tuple[int, int, int, int]  # (total, renewals, money x days paid early, days paid early)
    v: int
    extra: tuple
    parent: _Node | None = None
    move: tuple | None = None  # (day, offer index, price, bonus days, state, applied names)


class _Pricer:
    def __init__(self, rules: Rules, offers: Sequence[OfferInfo], campaigns: Sequence[pricing.Campaign],
                 facts: LineFacts, channel: str, instants: list[datetime]):
        self.rules, self.offers, self.facts, self.channel = rules, offers, facts, channel
        self.campaigns = [c for c in campaigns if c.code is None
                          and c.operator_id in (None, rules.operator_id)
                          and (not c.channels or channel in c.channels)
                          and (not c.languages or facts.language in c.languages)]
        self.limited = tuple(c.id for c in self.campaigns if c.per_line_limit is not None)
        self.track_first = not facts.has_renewed and any(c.first_renewal_only for c in self.campaigns)
        self.by_state = any(c.line_states for c in self.campaigns)
        self.base_uses = dict(facts.uses)
        self.instants = instants
        sigs: list[tuple] = []
        for at in instants:
            sigs.append(tuple(i for i, c in enumerate(self.campaigns) if c.starts_at <= at < c.ends_at))
        self.sigs = sigs
        self.bonus_days_on = [any(self.campaigns[i].benefit == BONUS_DAYS for i in s) for s in sigs]
        self.cache: dict = {}

    def initial_extra(self) -> tuple:
        return (self.track_first, tuple(0 for _ in self.limited))

    def price(self, d: int, k: int, state: str, extra: tuple):
        sig = self.sigs[d]
        if not sig:
            return self.offers[k].list_minor, 0, (), (False, extra[1]) if extra[0] else extra
        key = (sig, k, state if self.by_state else "", extra)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        o = self.offers[k]
        first, uses = extra
        used = dict(zip(self.limited, uses, strict=True))
        facts = pricing.Facts(operator_id=self.rules.operator_id, state=state, language=self.facts.language,
                              first_renewal=lambda: first,
                              uses_of=lambda cid: self.base_uses.get(cid, 0) + used.get(cid, 0))
        priced = pricing.price(list_minor=o.list_minor, offer_bonus_minor=o.bonus_minor,
                               validity_days=o.validity_days, currency=self.rules.currency, offer_id=o.id,
                               channel=self.channel, now=self.instants[d], facts=facts,
                               campaigns=[self.campaigns[i] for i in sig])
        names = tuple(a.name for a in priced.applied)
        ids = {a.promotion_id for a in priced.applied}
        new_uses = tuple(n + (1 if str(cid) in ids else 0) for cid, n in zip(self.limited, uses, strict=True))
        new_extra = (False, new_uses) if (first or any(new_uses)) else extra
        hit = (priced.price_minor, priced.bonus_days, names, new_extra)
        self.cache[key] = hit
        return hit


def renewal_instant(day0: date, d: int, now: datetime, tz: str) -> datetime:
    if d == 0:
        return now
    return datetime.combine(day0 + timedelta(days=d), RENEW_LOCAL_TIME).replace(tzinfo=zone(tz)).astimezone(UTC)


def day_index(instant: datetime, day0: date, tz: str) -> int:
    """The day a validity end (a local midnight) starts; an end inside a day counts from the next midnight."""
    local = instant.astimezone(zone(tz))
    d = (local.date() - day0).days
    return d if local.time() == time(0) else d + 1


def midnight(day0: date, v: int, tz: str) -> datetime:
    return datetime.combine(day0 + timedelta(days=v), time(0)).replace(tzinfo=zone(tz)).astimezone(UTC)


def plan(*, rules: Rules, offers: Sequence[OfferInfo], validity_ends_at: datetime, now: datetime, until: date,
         campaigns: Sequence[pricing.Campaign] = (), facts: LineFacts = LineFacts(), channel: str = "portal",
         mode: str = CHEAPEST) -> Plan | None:
    """The cheapest plan keeping the number past `until` in `mode`, or None when no plan can (a renewal refused
    by the cap every day, say). Raises NumberAlreadyLost when the number is already lost."""
    tz = rules.timezone
    local_now = now.astimezone(zone(tz))
    day0 = local_now.date()
    horizon = (until - day0).days
    g, s = rules.grace_days, rules.suspended_days
    sigma = {CHEAPEST: g + s, REACHABLE: g, ACTIVE: 0}[mode]
    v0 = day_index(validity_ends_at, day0, tz)
    if v0 + g + s <= 0:
        raise NumberAlreadyLost()
    horizon = max(horizon, 0)
    # a renewal at local midnight on day 0 counts its days from that midnight, later ones from inside the day
    plus0 = 0 if local_now.time() == time(0) else 1
    instants = [renewal_instant(day0, d, now, tz) for d in range(horizon + 2)]
    pricer = _Pricer(rules, offers, campaigns, facts, channel, instants)
    stack_max = rules.validity_stacking == STACK_MAX
    cap_days = rules.max_validity_days
    offer_days = [o.validity_days for o in offers]
    by_state = pricer.by_state

    start = _Node((0, 0, 0, 0), v0, pricer.initial_extra())
    if v0 + sigma > horizon:
        return _finish(start, mode, until, day0, rules, offers, instants, horizon)
    best_end: _Node | None = None
    pool: dict[int, dict[tuple, _Node]] = {v0: {start.extra: start}}  # validity end -> renewal facts -> best
    windows: dict[tuple[str, tuple], deque[_Node]] = {}  # lapsed states by (state, facts), in order of v

    def state_of(v: int, d: int) -> str:
        return _ACTIVE_STATE if d < v else _GRACE if d < v + g else _SUSPENDED

    def offer_result(d: int, v: int, days: int, bonus: int) -> int | None:
        plus = plus0 if d == 0 else 1
        cap = d + cap_days + plus
        new = max(v, d + days + plus) if stack_max else v + days if d < v else d + days + plus
        if new > cap:
            return None
        return min(cap, new + bonus) if bonus else new

    def add(node: _Node) -> bool:
        """Keep the node if it is the best for its key; True when it is new or better."""
        nonlocal best_end
        if node.v + sigma > horizon:
            if best_end is None or node.cost < best_end.cost:
                best_end = node
            return False
        bucket = pool.setdefault(node.v, {})
        old = bucket.get(node.extra)
        if old is not None and old.cost <= node.cost:
            return False
        bucket[node.extra] = node
        return True

    def renew_from(d: int, node: _Node, state: str, out: list[_Node], only: int | None = None) -> None:
        late = horizon - d
        c = node.cost
        for k, days in enumerate(offer_days):
            if only is not None and k != only:
                continue
            price, bonus, names, new_extra = pricer.price(d, k, state, node.extra)
            new_v = offer_result(d, node.v, days, bonus)
            if new_v is None or new_v <= node.v:
                continue
            child = _Node((c[0] + price, c[1] + 1, c[2] + price * late, c[3] + late), new_v, new_extra, node,
                          (d, k, price, bonus, state, names))
            if add(child):
                out.append(child)

    def renew_max_grouped(d: int, out: list[_Node]) -> None:
        """Max rule: buying offer k ends on d + days + 1 whatever the old end below it, so per (state, facts)
        only the cheapest state with an end below that renews with k (and states whose end is past it gain
        nothing but bonus days, tried as they are)."""
        groups: dict[tuple, list[_Node]] = {}
        for v, bucket in pool.items():
            for node in bucket.values():
                groups.setdefault((state_of(v, d), node.extra), []).append(node)
        plus = plus0 if d == 0 else 1
        for (state, _extra), nodes in groups.items():
            nodes.sort(key=lambda n: n.v)
            best: list[_Node] = []
            for n in nodes:
                best.append(n if not best or n.cost < best[-1].cost else best[-1])
            for k, days in enumerate(offer_days):
                threshold = d + days + plus
                i = bisect_left([n.v for n in nodes], threshold)
                if i:
                    renew_from(d, best[i - 1], state, out, only=k)
                for n in nodes[i:] if pricer.bonus_days_on[d] else ():
                    renew_from(d, n, state, out, only=k)

    def enter(node: _Node, state: str) -> None:
        q = windows.setdefault((state if by_state else "", node.extra), deque())
        while q and q[-1].cost >= node.cost:
            q.pop()
        q.append(node)

    def lapsed_best(d: int) -> list[tuple[_Node, str]]:
        found = []
        for (state, extra), q in windows.items():
            lo = d - sigma + 1 if d > 0 else -10**9
            if state == _GRACE:
                lo = max(lo, d - g + 1)
            elif state == _SUSPENDED:
                lo = max(lo, d - g - s + 1)
            while q and (q[0].v < lo or pool.get(q[0].v, {}).get(extra) is not q[0]):
                q.popleft()
            if q:
                found.append((q[0], state or state_of(q[0].v, d)))
        return found

    for d in range(horizon + 1):
        if d > 0:
            for v in [v for v in pool if v + sigma <= d] if d == 1 else [d - sigma]:
                pool.pop(v, None)
        if not pool:
            break
        sig_same = pricer.sigs[d] == pricer.sigs[d + 1] and not pricer.bonus_days_on[d]
        todo: list[_Node] = []
        # lapsed states join the windows on the day they lapse (all of them on day 0)
        for v in ([v for v in pool if v <= d] if d == 0 else [d]):
            for node in pool.get(v, {}).values():
                enter(node, state_of(v, d))
        if by_state:
            for v in ([v for v in pool if v + g <= d] if d == 0 else [d - g] if g else []):
                for node in pool.get(v, {}).values():
                    enter(node, _SUSPENDED)
        if stack_max:
            skip = sig_same and not by_state
            if not skip:
                renew_max_grouped(d, todo)
            for v in ([d - sigma + 1] if skip else []):
                for node in list(pool.get(v, {}).values()):
                    renew_from(d, node, state_of(v, d), todo)
            if skip and d == 0:
                for v in [v for v in pool if v + sigma <= 1]:
                    for node in list(pool[v].values()):
                        renew_from(d, node, state_of(v, d), todo)
        else:
            for v in ([v for v in pool if v > d] if not sig_same else [d + 1]):
                for node in list(pool.get(v, {}).values()):
                    renew_from(d, node, _ACTIVE_STATE, todo)
            if not stack_max:
                for node, state in lapsed_best(d):
                    renew_from(d, node, state, todo)
        # renewals made today may be renewed again today (a chain bought the same day)
        while todo:
            todo.sort(key=lambda n: n.v, reverse=True)
            node = todo.pop()
            if pool.get(node.v, {}).get(node.extra) is not node:
                continue
            if stack_max:
                if not (sig_same and not by_state and d + 1 < node.v + sigma):
                    renew_from(d, node, state_of(node.v, d), todo)
            elif node.v == d + 1 or not sig_same:
                renew_from(d, node, _ACTIVE_STATE, todo)
    if best_end is None:
        return None
    return _finish(best_end, mode, until, day0, rules, offers, instants, horizon)


def _finish(node: _Node, mode: str, until: date, day0: date, rules: Rules, offers: Sequence[OfferInfo],
            instants: list[datetime], horizon: int) -> Plan:
    moves = []
    n: _Node | None = node
    while n is not None and n.move is not None:
        moves.append((n.move, n.v))
        n = n.parent
    moves.reverse()
    tz, g, s = rules.timezone, rules.grace_days, rules.suspended_days
    steps = []
    for (d, k, price, bonus, state, names), v in moves:
        o = offers[k]
        steps.append(Step(day=day0 + timedelta(days=d), at=instants[d], offer_id=o.id, list_minor=o.list_minor,
                          price_minor=price, validity_days=o.validity_days, periods=o.periods, bonus_days=bonus,
                          state=state, validity_ends_on=day0 + timedelta(days=v - 1),
                          validity_ends_at=midnight(day0, v, tz), promotions=names))
    # days between today and DATE the line spends in grace or suspended (its state after that day's renewals)
    grace = suspended = 0
    v = n.v if n is not None else node.v
    i = 0
    for d in range(horizon + 1):
        while i < len(moves) and moves[i][0][0] == d:
            v = moves[i][1]
            i += 1
        if v + g <= d:
            suspended += 1
        elif v <= d:
            grace += 1
    final_v = node.v
    return Plan(mode=mode, until=until, currency=rules.currency, steps=tuple(steps),
                number_loss_on=day0 + timedelta(days=final_v + g + s), grace_days=grace, suspended_days=suspended,
                promotions_used=any(st.promotions for st in steps))


def plans(*, rules: Rules, offers: Sequence[OfferInfo], validity_ends_at: datetime, now: datetime, until: date,
          campaigns: Sequence[pricing.Campaign] = (), facts: LineFacts = LineFacts(),
          channel: str = "portal") -> list[Plan]:
    """The cheapest plan first, then the ways that keep the line reachable or active when they differ."""
    found: list[Plan] = []
    modes = [CHEAPEST]
    if rules.suspended_days:
        modes.append(REACHABLE)
    if rules.grace_days or rules.suspended_days:
        modes.append(ACTIVE)
    for mode in modes:
        p = plan(rules=rules, offers=offers, validity_ends_at=validity_ends_at, now=now, until=until,
                 campaigns=campaigns, facts=facts, channel=channel, mode=mode)
        if p is None:
            continue
        if any(q.same_as(p) for q in found):
            continue
        found.append(p)
    return found
