"""The one pricing rule: list price, the campaigns that apply and why, the price to pay and what it brings.

Pure: the caller reads the campaigns and the line's facts; every channel (portal, API, counter, recharge card,
auto-renew, the planner) prices through `price`, so the same line, offer, channel and instant cost the same."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from simkeep.promotion.models import (
    AMOUNT_OFF,
    BONUS_CREDIT,
    BONUS_DAYS,
    CASHBACK_PERCENT,
    DISCOUNTS,
    PERCENT_OFF,
)


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign as pricing reads it (`service.live_campaigns`)."""

    id: object
    name: str
    code: str | None
    starts_at: datetime
    ends_at: datetime
    operator_id: str | None
    offer_ids: tuple[str, ...] | None
    channels: tuple[str, ...] | None
    line_states: tuple[str, ...] | None
    languages: tuple[str, ...] | None
    first_renewal_only: bool
    per_line_limit: int | None
    benefit: str
    benefit_value: int
    currency: str | None
    stackable: bool
    uses_left: int | None = None  # what is left of the budget when read (None: no limit)
    budget_left_minor: int | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """What eligibility may ask about the line. The costly facts are asked only when a campaign needs them."""

    operator_id: str
    state: str
    language: str
    first_renewal: Callable[[], bool]
    uses_of: Callable[[object], int]  # this line's earlier uses of a campaign (reserved or used)


@dataclass(frozen=True, slots=True)
class Applied:
    promotion_id: str
    name: str
    benefit: str
    discount_minor: int = 0
    bonus_minor: int = 0
    bonus_days: int = 0
    cashback_minor: int = 0

    @property
    def cost_minor(self) -> int:
        """What the campaign pays for this renewal (bonus days cost no money)."""
        return self.discount_minor + self.bonus_minor + self.cashback_minor

    def to_dict(self) -> dict:
        return {"promotion_id": self.promotion_id, "name": self.name, "benefit": self.benefit,
                "discount_minor": self.discount_minor, "bonus_minor": self.bonus_minor,
                "bonus_days": self.bonus_days, "cashback_minor": self.cashback_minor}


@dataclass(frozen=True, slots=True)
class Priced:
    list_minor: int
    offer_bonus_minor: int
    applied: tuple[Applied, ...] = field(default=())

    @property
    def discount_minor(self) -> int:
        return min(self.list_minor, sum(a.discount_minor for a in self.applied))

    @property
    def price_minor(self) -> int:
        return self.list_minor - self.discount_minor

    @property
    def promotion_bonus_minor(self) -> int:
        return sum(a.bonus_minor for a in self.applied)

    @property
    def bonus_minor(self) -> int:
        return self.offer_bonus_minor + self.promotion_bonus_minor

    @property
    def bonus_days(self) -> int:
        return sum(a.bonus_days for a in self.applied)

    @property
    def cashback_minor(self) -> int:
        return sum(a.cashback_minor for a in self.applied)


def price(*, list_minor: int, offer_bonus_minor: int, validity_days: int, currency: str, offer_id: str,
          channel: str, now: datetime, facts: Facts, campaigns: Sequence[Campaign], code: str | None = None,
          fixed_price: bool = False, exclude: frozenset = frozenset()) -> Priced:
    """The price of one renewal. Stacking: the best single exclusive campaign (by what it is worth to the payer)
    plus every stackable one. `fixed_price`: the price cannot change (a recharge card's face value), so discounts
    do not apply. `exclude`: campaigns left out (their budget ran out while paying)."""
    code = normalise_code(code)
    apply = [(c, a) for c in campaigns
             if c.id not in exclude and eligible(c, facts=facts, offer_id=offer_id, channel=channel, now=now,
                                                 code=code, currency=currency, fixed_price=fixed_price)
             and affordable(c, a := benefit_of(c, list_minor))]
    best = max((a for c, a in apply if not c.stackable), default=None,
               key=lambda a: (worth(a, list_minor, validity_days), a.promotion_id))
    stacked = [a for c, a in apply if c.stackable]
    return Priced(list_minor, offer_bonus_minor, tuple(([best] if best else []) + stacked))


def eligible(c: Campaign, *, facts: Facts, offer_id: str, channel: str, now: datetime, code: str | None,
             currency: str, fixed_price: bool = False) -> bool:
    """Every condition the campaign sets, cheapest first; the per-line facts that need a query come last."""
    return (c.starts_at <= now < c.ends_at
            and (c.code is None or c.code == code)
            and _any(c.operator_id and (c.operator_id,), facts.operator_id)
            and _any(c.offer_ids, offer_id) and _any(c.channels, channel)
            and _any(c.line_states, facts.state) and _any(c.languages, facts.language)
            and (c.currency is None or c.currency == currency)  # a campaign with a currency (its amounts, its budget) stays in it
            and not (fixed_price and c.benefit in DISCOUNTS)
            and (not c.first_renewal_only or facts.first_renewal())
            and (c.per_line_limit is None or facts.uses_of(c.id) < c.per_line_limit))


def affordable(c: Campaign, a: Applied) -> bool:
    """The budget left when the campaigns were read still covers this use (taking it re-checks exactly)."""
    return (c.uses_left is None or c.uses_left > 0) and (c.budget_left_minor is None or a.cost_minor <= c.budget_left_minor)


def _any(allowed, value) -> bool:
    return not allowed or value in allowed


def benefit_of(c: Campaign, list_minor: int) -> Applied:
    amounts = {"discount_minor": 0, "bonus_minor": 0, "bonus_days": 0, "cashback_minor": 0}
    if c.benefit == PERCENT_OFF:
        amounts["discount_minor"] = percent_of(list_minor, c.benefit_value)
    elif c.benefit == AMOUNT_OFF:
        amounts["discount_minor"] = min(list_minor, c.benefit_value)
    elif c.benefit == BONUS_CREDIT:
        amounts["bonus_minor"] = c.benefit_value
    elif c.benefit == BONUS_DAYS:
        amounts["bonus_days"] = c.benefit_value
    elif c.benefit == CASHBACK_PERCENT:
        amounts["cashback_minor"] = percent_of(list_minor, c.benefit_value)
    else:
        raise ValueError(f"unknown benefit {c.benefit!r}")
    return Applied(str(c.id), c.name, c.benefit, **amounts)


def percent_of(minor: int, percent: int) -> int:
    """Rounded half up to the minor unit: 15 % of €9.99 is €1.50."""
    return (minor * percent + 50) // 100


def worth(a: Applied, list_minor: int, validity_days: int) -> int:
    """What a benefit is worth to the payer in minor units; a bonus day is worth a day of the offer's price."""
    return a.discount_minor + a.bonus_minor + a.cashback_minor + a.bonus_days * list_minor // max(validity_days, 1)


def normalise_code(code: str | None) -> str | None:
    """Promo codes are case-insensitive and ignore surrounding spaces."""
    return code.strip().upper() or None if code else None
