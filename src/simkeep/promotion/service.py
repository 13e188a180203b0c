"""Campaigns and quotes: what a renewal costs, held to the same price on every channel until it expires, and each
campaign's budget held exactly (reserved when a payment starts or a top-up is made, given back if never paid)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.core.errors import (
    InvalidInput,
    PromoCodeInvalid,
    PromoCodeTaken,
    PromotionNotFound,
    PromotionUnavailable,
    QuoteExpired,
    QuoteMismatch,
    QuoteNotFound,
    QuoteUsed,
)
from simkeep.core.ids import new_id
from simkeep.ledger.service import CHANNELS
from simkeep.line.models import RENEWABLE
from simkeep.locale.languages import LANGUAGES
from simkeep.promotion import repository
from simkeep.promotion.models import (
    ACTIVE,
    AMOUNT_OFF,
    BENEFITS,
    BONUS_CREDIT,
    BONUS_DAYS,
    DRAFT,
    OPEN,
    PAUSED,
    RELEASED,
    RESERVED,
    USED,
    Promotion,
    PromotionUse,
    Quote,
)
from simkeep.promotion.pricing import Applied, Campaign, Priced, normalise_code

CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
QUOTE_MINUTES = 15  # how long a quote holds its price unless paid (SIMKEEP_QUOTE_MINUTES)


# -- campaigns ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """A campaign as staff set it up. The window is in the operator's zone (`timezone`): naive datetimes are read
    there; None eligibility fields mean any."""

    name: str
    benefit: str
    benefit_value: int
    starts_at: datetime
    ends_at: datetime
    timezone: str = "Europe/Paris"
    code: str | None = None
    operator_id: str | None = None
    offer_ids: list[str] | None = None
    channels: list[str] | None = None
    line_states: list[str] | None = None
    languages: list[str] | None = None
    first_renewal_only: bool = False
    per_line_limit: int | None = None
    currency: str | None = None
    stackable: bool = False
    max_uses: int | None = None
    budget_minor: int | None = None


def create(session: Session, spec: CampaignSpec, *, actor: str, reason: str, now: datetime) -> Promotion:
    """A new campaign, as a draft until started. Raises InvalidInput naming the field, PromoCodeTaken."""
    fields = _checked_spec(spec)
    promotion = Promotion(id=new_id(), state=DRAFT, uses=0, spent_minor=0, created_by=actor, created_at=now,
                          updated_at=now, **fields)
    try:
        with session.begin_nested():
            session.add(promotion)
            session.flush()
    except IntegrityError as exc:
        raise PromoCodeTaken() from exc
    audit.record(session, actor=actor, action="promotion.create", subject_type="promotion", subject_id=str(promotion.id),
                 reason=reason, details={k: v for k, v in fields.items() if k not in ("starts_at", "ends_at")}
                 | {"starts_at": fields["starts_at"].isoformat(), "ends_at": fields["ends_at"].isoformat()}, now=now)
    return promotion


def _checked_spec(spec: CampaignSpec) -> dict:
    fields = asdict(spec)
    tz = ZoneInfo(spec.timezone)
    for name in ("starts_at", "ends_at"):
        value = fields[name]
        fields[name] = value.replace(tzinfo=tz) if value.tzinfo is None else value
    problems = [
        (not spec.name.strip() or len(spec.name) > 120) and "name: 1 to 120 characters",
        spec.benefit not in BENEFITS and f"benefit: one of {', '.join(BENEFITS)}",
        not _benefit_value_ok(spec) and "benefit_value: a percentage 1-100, an amount above 0 or 1-365 days",
        spec.benefit in (AMOUNT_OFF, BONUS_CREDIT) and not spec.currency and "currency: needed for an amount",
        spec.budget_minor is not None and not spec.currency and "currency: needed for a money budget",
        fields["ends_at"] <= fields["starts_at"] and "ends_at: must be after starts_at",
        spec.code is not None and not CODE.match(normalise_code(spec.code) or "") and "code: 3-32 letters, digits, -",
        not set(spec.channels or ()) <= set(CHANNELS) and f"channels: among {', '.join(CHANNELS)}",
        not set(spec.line_states or ()) <= set(RENEWABLE) and f"line_states: among {', '.join(RENEWABLE)}",
        not set(spec.languages or ()) <= set(LANGUAGES) and f"languages: among {', '.join(LANGUAGES)}",
        spec.per_line_limit is not None and spec.per_line_limit < 1 and "per_line_limit: at least 1",
        spec.max_uses is not None and spec.max_uses < 1 and "max_uses: at least 1",
        spec.budget_minor is not None and spec.budget_minor < 1 and "budget_minor: above 0",
    ]
    if found := [p for p in problems if p]:
        raise InvalidInput("; ".join(found))
    fields["code"] = normalise_code(spec.code)
    return fields


def _benefit_value_ok(spec: CampaignSpec) -> bool:
    if spec.benefit in ("percent_off", "cashback_percent"):
        return 1 <= spec.benefit_value <= 100
    if spec.benefit == BONUS_DAYS:
        return 1 <= spec.benefit_value <= 365
    return spec.benefit_value > 0


TRANSITIONS = {"start": (DRAFT, ACTIVE), "pause": (ACTIVE, PAUSED), "resume": (PAUSED, ACTIVE)}


def change_state(session: Session, promotion_id, action: str, *, actor: str, reason: str, now: datetime) -> Promotion:
    """Start, pause or resume a campaign (audited). Pausing stops new quotes and top-ups at once; quotes already
    held by a payment in progress are honoured."""
    promotion = get(session, promotion_id, lock=True)  # two staff pausing at once: the second sees it paused
    before, after = TRANSITIONS[action]
    if promotion.state != before:
        raise InvalidInput(f"Only a {before} campaign can {action}; this one is {promotion.state}.")
    promotion.state, promotion.updated_at = after, now
    audit.record(session, actor=actor, action=f"promotion.{action}", subject_type="promotion",
                 subject_id=str(promotion.id), reason=reason, now=now)
    return promotion


def get(session: Session, promotion_id, *, lock: bool = False) -> Promotion:
    try:
        promotion = session.get(Promotion, uuid.UUID(str(promotion_id)), with_for_update=lock, populate_existing=lock)
    except ValueError:
        promotion = None
    if promotion is None:
        raise PromotionNotFound()
    return promotion


# -- quotes ------------------------------------------------------------------------------------------------------

def uses_by_line(session: Session, promotion_id, line_id) -> int:
    return repository.uses_by_line(session, promotion_id, line_id)


def live_campaigns(session: Session, now: datetime) -> list[Campaign]:
    return [as_campaign(p) for p in repository.live(session, now)]


def as_campaign(p: Promotion) -> Campaign:
    def tup(v):
        return tuple(v) if v else None
    return Campaign(id=p.id, name=p.name, code=p.code, starts_at=p.starts_at, ends_at=p.ends_at,
                    operator_id=p.operator_id, offer_ids=tup(p.offer_ids), channels=tup(p.channels),
                    line_states=tup(p.line_states), languages=tup(p.languages),
                    first_renewal_only=p.first_renewal_only, per_line_limit=p.per_line_limit, benefit=p.benefit,
                    benefit_value=p.benefit_value, currency=p.currency, stackable=p.stackable,
                    uses_left=None if p.max_uses is None else p.max_uses - p.uses,
                    budget_left_minor=None if p.budget_minor is None else p.budget_minor - p.spent_minor)


def check_code(code: str | None, priced: Priced, campaigns: Sequence[Campaign]) -> None:
    """A code typed by the payer must bring a campaign: otherwise say so rather than quietly charge list price."""
    code = normalise_code(code)
    if code is None:
        return
    by_id = {str(c.id): c for c in campaigns}
    if not any(by_id.get(a.promotion_id) and by_id[a.promotion_id].code == code for a in priced.applied):
        raise PromoCodeInvalid()


@dataclass(frozen=True, slots=True)
class QuoteFor:
    """What a quote prices: the line, offer and channel it is good for."""

    line_id: object
    msisdn: str
    operator_id: str
    offer_id: str
    channel: str
    currency: str


def issue(session: Session, target: QuoteFor, priced: Priced, *, validity_ends_at: datetime, now: datetime,
          code: str | None = None, partner_code: str | None = None, minutes: int = QUOTE_MINUTES,
          state: str = OPEN, topup_id=None) -> Quote:
    quote = Quote(id=new_id(), line_id=target.line_id, msisdn=target.msisdn, operator_id=target.operator_id,
                  offer_id=target.offer_id, channel=target.channel, code=normalise_code(code),
                  partner_code=normalise_code(partner_code), currency=target.currency,
                  list_minor=priced.list_minor, discount_minor=priced.discount_minor, price_minor=priced.price_minor,
                  bonus_minor=priced.bonus_minor, promotion_bonus_minor=priced.promotion_bonus_minor,
                  bonus_days=priced.bonus_days, cashback_minor=priced.cashback_minor,
                  validity_ends_at=validity_ends_at, applied=[a.to_dict() for a in priced.applied], state=state,
                  topup_id=topup_id, created_at=now, expires_at=now + timedelta(minutes=minutes))
    session.add(quote)
    session.flush()
    return quote


def get_quote(session: Session, quote_id) -> Quote:
    quote = repository.lock_quote(session, quote_id)
    if quote is None:
        raise QuoteNotFound()
    return quote


def find_quote(session: Session, quote_id) -> Quote | None:
    """A quote to show again (no lock); None if there is no such quote."""
    return repository.find_quote(session, quote_id)


def priced_of(quote: Quote) -> Priced:
    """The quote's terms as pricing states them (to charge exactly what was shown)."""
    applied = tuple(Applied(**a) for a in quote.applied)
    return Priced(quote.list_minor, quote.bonus_minor - quote.promotion_bonus_minor, applied)


def hold(session: Session, quote_id, *, target: QuoteFor, now: datetime) -> Quote:
    """A payment starts on this quote: check it is the one shown (same line, offer and channel, not expired, not
    paid) and reserve its campaigns' budget. Raises QuoteNotFound, QuoteMismatch, QuoteExpired, QuoteUsed or
    PromotionUnavailable (the budget ran out since: quote again). Holding twice is harmless."""
    quote = _checked(session, quote_id, target)
    if quote.state == RESERVED:
        return quote
    if quote.state == OPEN and now >= quote.expires_at:
        raise QuoteExpired()
    _reserve(session, quote, now)
    quote.state = RESERVED
    return quote


def release(session: Session, quote_id, *, now: datetime) -> None:
    """The payment on this quote failed or was abandoned: give its campaigns their budget back."""
    quote = repository.lock_quote(session, quote_id)
    if quote is None or quote.state != RESERVED:
        return
    for use in repository.uses_of_quote(session, quote.id):
        if use.state == RESERVED:
            repository.give_back_budget(session, use.promotion_id, use.cost_minor, now)
            use.state, use.updated_at = RELEASED, now
    quote.state = RELEASED


def use(session: Session, quote_id, *, target: QuoteFor, topup_id, now: datetime, honour: bool = False) -> Quote:
    """The top-up paying this quote (called by `topup.top_up`, in its transaction, with the line locked). An open
    quote must not have expired; a reserved one (a payment was started in time) is honoured whenever it is paid.
    A released one (its payment was given up, then paid after all) takes its budget again if there is any left,
    else raises PromotionUnavailable. `honour`: a person decided to honour a released quote that was paid although
    its campaign's budget ran out since (payment review): the payer gets exactly what was shown and paid, the cost
    goes to the ledger's promotion expense, and the campaign's budget is left as it is (never exceeded): its uses
    of this quote stay released."""
    quote = _checked(session, quote_id, target)
    if quote.state in (OPEN, RELEASED):
        if quote.state == OPEN and now >= quote.expires_at:
            raise QuoteExpired()
        try:
            _reserve(session, quote, now)
        except PromotionUnavailable:
            if not (honour and quote.state == RELEASED):
                raise
            quote.state, quote.topup_id = USED, topup_id
            return quote
    for row in repository.uses_of_quote(session, quote.id):
        row.state, row.topup_id, row.updated_at = USED, topup_id, now
    quote.state, quote.topup_id = USED, topup_id
    return quote


def use_priced(session: Session, target: QuoteFor, priced: Priced, *, validity_ends_at: datetime, topup_id,
               now: datetime) -> Quote | None:
    """A top-up priced at the moment it is made (no quote was shown first): record its quote and take its
    campaigns' budget. Raises PromotionUnavailable naming the campaign whose budget ran out."""
    if not priced.applied:
        return None
    with session.begin_nested():  # a campaign that ran out leaves no quote behind: the caller prices again
        quote = issue(session, target, priced, validity_ends_at=validity_ends_at, now=now, minutes=0, state=USED,
                      topup_id=topup_id)
        _reserve(session, quote, now, state=USED, topup_id=topup_id)
    return quote


def _checked(session: Session, quote_id, target: QuoteFor) -> Quote:
    quote = get_quote(session, quote_id)
    if quote.state == USED:
        raise QuoteUsed()
    if (quote.line_id, quote.msisdn, quote.offer_id, quote.channel) != (
            target.line_id, target.msisdn, target.offer_id, target.channel):
        raise QuoteMismatch()
    return quote


def _reserve(session: Session, quote: Quote, now: datetime, *, state: str = RESERVED, topup_id=None) -> None:
    """Each campaign's use and cost against its budget, all or none (a savepoint), and its per-line limit."""
    ids = [uuid.UUID(a["promotion_id"]) for a in quote.applied]
    limits = {p.id: p.per_line_limit for p in repository.promotions(session, ids)}
    # A released quote paid after all takes its budget again through its own rows (one per campaign and quote).
    earlier = {row.promotion_id: row for row in repository.uses_of_quote(session, quote.id)}
    with session.begin_nested():
        for promotion_id, applied in zip(ids, quote.applied, strict=True):
            cost = applied["discount_minor"] + applied["bonus_minor"] + applied["cashback_minor"]
            if not repository.take_budget(session, promotion_id, cost, now):
                raise PromotionUnavailable(promotion_id=str(promotion_id))
            limit = limits.get(promotion_id)
            if limit is not None and repository.uses_by_line(session, promotion_id, quote.line_id) >= limit:
                raise PromotionUnavailable(promotion_id=str(promotion_id))
            if (row := earlier.get(promotion_id)) is not None:
                row.state, row.cost_minor, row.updated_at = RESERVED, cost, now
                continue
            session.add(PromotionUse(id=new_id(), promotion_id=promotion_id, quote_id=quote.id,
                                     line_id=quote.line_id, cost_minor=cost, bonus_days=applied["bonus_days"],
                                     state=state, topup_id=topup_id, created_at=now, updated_at=now))
        session.flush()
