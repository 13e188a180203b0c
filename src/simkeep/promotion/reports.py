"""What staff see of a campaign: who is eligible now (the preview), and what it cost and brought (the report).

The preview counts live lines by what a campaign can know about a line in advance (operator, line state, language,
first renewal, per-line limit); offer, channel and promo code are decided by the payer at renewal time. The
report reads the campaign's uses (promotion_uses) and checks them against the ledger's promotion expense posted
by the top-ups that used it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from simkeep.catalog import service as catalog
from simkeep.core.phone import masked
from simkeep.ledger import service as ledger
from simkeep.line.models import RENEWABLE, Line
from simkeep.promotion.models import RELEASED, RESERVED, USED, Promotion, PromotionUse, Quote

SAMPLE = 5  # masked numbers shown in a preview


@dataclass(frozen=True, slots=True)
class Preview:
    """Live lines this campaign would apply to now, by line state, and a few of their numbers masked."""

    total: int
    by_state: dict[str, int]
    samples: list[str]
    # What the count cannot know in advance: the payer chooses offer and channel, and types the code.
    decided_at_renewal: tuple[str, ...]


def preview(session: Session, promotion: Promotion, *, now: datetime, sample: int = SAMPLE) -> Preview:
    """Count the lines (not yet lost, in a renewable state) that match the campaign's operator, line states,
    languages and first-renewal rule, leaving out those that used up their per-line limit."""
    states = list(promotion.line_states or RENEWABLE)
    where = [Line.state.in_(states), Line.number_loss_at > now]
    if promotion.operator_id:
        where.append(Line.operator_id == promotion.operator_id)
    if promotion.languages:
        where.append(Line.language.in_(list(promotion.languages)))
    if promotion.first_renewal_only:
        where.append(Line.credit_account_id.not_in(ledger.accounts_posted_by("topup")))
    if promotion.per_line_limit is not None:
        where.append(Line.id.not_in(
            select(PromotionUse.line_id).where(PromotionUse.promotion_id == promotion.id,
                                               PromotionUse.state != RELEASED)
            .group_by(PromotionUse.line_id).having(func.count() >= promotion.per_line_limit)))
    by_state = {state: int(n) for state, n in session.execute(
        select(Line.state, func.count()).where(*where).group_by(Line.state))}
    numbers = session.scalars(select(Line.msisdn).where(*where).order_by(Line.msisdn).limit(sample))
    decided = tuple(name for name, value in (("offer", promotion.offer_ids), ("channel", promotion.channels),
                                              ("code", promotion.code)) if value)
    return Preview(total=sum(by_state.values()), by_state={s: by_state.get(s, 0) for s in states},
                   samples=[masked(n) for n in numbers], decided_at_renewal=decided)


@dataclass(slots=True)
class Day:
    day: date  # in the campaign's zone
    uses: int = 0
    cost_minor: int = 0
    revenue_minor: int = 0


@dataclass(slots=True)
class Report:
    """`uses`: renewals paid with the campaign (each a top-up); `held`: payments in progress holding its budget.
    `cost_minor`: what it gave (discount, bonus credit, cashback) by its uses; `ledger_cost_minor`: its share of
    the promotion expense the ledger holds for those top-ups (discount and bonus: cashback is posted when paid
    out). `revenue_minor`: what those renewals brought in; `list_minor`: what they would have cost at list price."""

    currency: str | None
    uses: int = 0
    held: int = 0
    cost_minor: int = 0
    discount_minor: int = 0
    bonus_minor: int = 0
    cashback_minor: int = 0
    bonus_days: int = 0
    ledger_cost_minor: int = 0
    revenue_minor: int = 0
    list_minor: int = 0
    days: list[Day] = field(default_factory=list)

    @property
    def renewals(self) -> int:
        return self.uses

    @property
    def average_discount_minor(self) -> int:
        """The discount per renewal, rounded half up to the minor unit."""
        return (2 * self.discount_minor + self.uses) // (2 * self.uses) if self.uses else 0

    @property
    def ledger_matches(self) -> bool:
        return self.ledger_cost_minor == self.cost_minor - self.cashback_minor


def report(session: Session, promotion: Promotion) -> Report:
    rows = session.execute(
        select(PromotionUse.state, PromotionUse.cost_minor, PromotionUse.bonus_days, PromotionUse.updated_at,
               PromotionUse.topup_id, Quote.price_minor, Quote.list_minor, Quote.currency, Quote.bonus_minor,
               Quote.promotion_bonus_minor, Quote.applied)
        .join(Quote, Quote.id == PromotionUse.quote_id)
        .where(PromotionUse.promotion_id == promotion.id, PromotionUse.state.in_((RESERVED, USED)))
        .order_by(PromotionUse.updated_at)).all()
    own = str(promotion.id)
    zone = ZoneInfo(promotion.timezone)
    result = Report(currency=promotion.currency or next((r.currency for r in rows), None))
    days: dict[date, Day] = {}
    others: dict[str, int] = {}  # per top-up: what the ledger's expense holds that is not this campaign's
    for r in rows:
        if r.state == RESERVED:
            result.held += 1
            continue
        mine = next(a for a in r.applied if a["promotion_id"] == own)
        result.uses += 1
        result.cost_minor += r.cost_minor
        result.discount_minor += mine["discount_minor"]
        result.bonus_minor += mine["bonus_minor"]
        result.cashback_minor += mine["cashback_minor"]
        result.bonus_days += r.bonus_days
        result.revenue_minor += r.price_minor
        result.list_minor += r.list_minor
        others[f"topup:{r.topup_id}"] = (r.bonus_minor - r.promotion_bonus_minor) + sum(
            a["discount_minor"] + a["bonus_minor"] for a in r.applied if a["promotion_id"] != own)
        day = r.updated_at.astimezone(zone).date()
        entry = days.setdefault(day, Day(day))
        entry.uses += 1
        entry.cost_minor += r.cost_minor
        entry.revenue_minor += r.price_minor
    result.days = [days[d] for d in sorted(days)]
    if others and result.currency:
        expense = ledger.system_account_id(ledger.PROMOTION_EXPENSE, result.currency)
        posted = ledger.amounts_by_reference(session, list(others), expense)
        result.ledger_cost_minor = sum(-posted.get(ref, 0) - other for ref, other in others.items())
    return result


# -- the list ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Listed:
    promotion: Promotion
    live: bool  # active and inside its window now
    ended: bool
    currency: str | None  # of its cost: its own, else its operator's; None when it spans operators' currencies


def listing(session: Session, *, now: datetime) -> list[Listed]:
    """Every campaign, newest first, with whether it applies now."""
    found = list(session.scalars(select(Promotion).order_by(Promotion.created_at.desc(), Promotion.id)))
    currencies = {o.id: o.currency for o, _ in catalog.list_operators(session)} if found else {}
    return [Listed(p, p.state == "active" and p.starts_at <= now < p.ends_at, p.ends_at <= now,
                   p.currency or currencies.get(p.operator_id or "")) for p in found]


def choices(session: Session) -> tuple[list[tuple[str, str, str, str]], list[str]]:
    """What a campaign can be limited to: (id, name, zone, currency) of every operator, and every offer id."""
    found = catalog.list_operators(session)
    return ([(o.id, f"{o.brand} {o.product}", o.timezone, o.currency) for o, _ in found],
            [offer.id for _, offers in found for offer in offers])
