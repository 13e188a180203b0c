"""One top-up for every channel: price, ledger, validity, state and notification in one transaction."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ParamSpec

from sqlalchemy.orm import Session

from simkeep.catalog import service as catalog
from simkeep.catalog.models import Offer, OfferTerms, Operator, OperatorRules
from simkeep.core import idempotency
from simkeep.core.errors import (
    InvalidInput,
    LineNotRenewable,
    OfferNotFound,
    PromotionUnavailable,
    SimkeepError,
    ValidityCapReached,
)
from simkeep.core.ids import new_id
from simkeep.core.metrics import TOPUPS, count_on_commit
from simkeep.core.money import Money
from simkeep.core.phone import lookup_msisdn
from simkeep.ledger import service as ledger
from simkeep.ledger.service import Leg
from simkeep.line import rules
from simkeep.line import service as lines
from simkeep.line.models import ACTIVE, RENEWABLE, LockedLine
from simkeep.notification import events, outbox
from simkeep.promotion import cashback, pricing
from simkeep.promotion import service as promotions
from simkeep.promotion.models import Quote
from simkeep.promotion.service import QuoteFor
from simkeep.topup import repository
from simkeep.topup.models import TopUp

COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class TopUpResult:
    topup: TopUp
    replayed: bool  # the same request seen before: its first result, nothing moved this time


P = ParamSpec("P")


def _counted(top_up: Callable[P, TopUpResult]) -> Callable[P, TopUpResult]:
    """simkeep_topups_total by channel and outcome: completed or replayed when the transaction commits, the error
    code of a refusal at once (the refusal is the outcome, whatever the caller's transaction does next)."""

    @functools.wraps(top_up)
    def counted(*args: P.args, **kwargs: P.kwargs) -> TopUpResult:
        channel = kwargs["channel"] if kwargs["channel"] in ledger.CHANNELS else "invalid"
        try:
            result = top_up(*args, **kwargs)
        except SimkeepError as exc:
            TOPUPS.labels(channel, exc.code).inc()
            raise
        session = args[0] if args else kwargs["session"]
        count_on_commit(session, TOPUPS.labels(channel, "replayed" if result.replayed else COMPLETED))  # type: ignore[arg-type]
        return result

    return counted


@_counted
def top_up(session: Session, *, principal: str, idempotency_key: str, msisdn: str, offer_id: str,
           channel: str, now: datetime, region: str = "FR", notify: dict | None = None,
           clearing: str | None = None, price: Money | None = None,
           funding: Callable[[Money], list[Leg]] | None = None, request_extra: tuple[str, ...] = (),
           locked: tuple[LockedLine, OperatorRules, OfferTerms | None] | None = None,
           topup_id: uuid.UUID | None = None, quote_id: uuid.UUID | str | None = None,
           honour_quote: bool = False) -> TopUpResult:
    """`notify` adds fields to the confirmation message (a receipt link, for instance); `clearing` names the
    clearing account the money comes through when it is not the channel's (a payment provider's). `price`
    replaces the catalog's (a voucher credits the face value printed on it); `funding` gives the legs that pay the
    price (a reseller's float and its commission, a voucher's liability) instead of the clearing account;
    `request_extra` adds to what identifies the request for its idempotency key (a voucher's PIN hash).
    `locked` is (line, operator, offer) from a caller that already holds the line's lock (`lock_live_line` in
    this transaction) and found no earlier request with this key: the lock is not taken again (a voucher's
    redemption saves that round trip). `topup_id` is the new top-up's id when the caller must know it first.

    The price is the quote's when `quote_id` names the quote the payer was shown (refused if it expired, was paid
    or is for another line, offer or channel); otherwise the line is priced now, by the same rule (`quote`).
    `honour_quote`: a person honours a paid quote whose campaign budget ran out after its payment was given up
    (promotion.service.use's `honour`)."""
    if channel not in ledger.CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(ledger.CHANNELS)}")
    number = lookup_msisdn(msisdn, region)
    request_hash = request_hash_of(number, offer_id, channel, *request_extra, *((str(quote_id),) if quote_id else ()))
    if locked is None:
        locked = lines.lock_live_line(session, number, offer_id,
                                      request=(TopUp.__table__, principal, idempotency_key))
        # An earlier request with this key comes with the lock (one round trip); without a live line, look it up.
        if locked is None:
            earlier = repository.find_by_key(session, principal, idempotency_key)
        else:
            earlier = repository.get(session, locked[0].earlier_id) if locked[0].earlier_id else None
        if (again := idempotency.replay(earlier, request_hash)) is not None:
            return TopUpResult(again, replayed=True)
    line, operator, offer = _renewable(session, number, locked, now)
    topup_id = topup_id or new_id()
    target = QuoteFor(line.id, number, operator.id, offer.id, channel, operator.currency)
    if quote_id is not None:
        quote = promotions.use(session, quote_id, target=target, topup_id=topup_id, now=now, honour=honour_quote)
        # The quote fixes the money; the days are counted from when it is paid (a transfer may take days).
        priced = promotions.priced_of(quote)
        new_end = _new_validity(operator, line, offer, priced, now)
    else:
        quote, priced, new_end = _price_and_use(session, target, line, operator, offer, channel, now, price,
                                                topup_id)
    paid = Money(priced.price_minor, operator.currency)
    paid_by = funding(paid) if funding else [Leg(ledger.clearing_account_id(paid.currency, clearing or channel), -paid)]
    expense = ledger.system_account_id(ledger.PROMOTION_EXPENSE, operator.currency)
    bonus = Money(priced.bonus_minor, operator.currency)
    discount = Money(priced.discount_minor, operator.currency)
    entry_id = ledger.post(session, kind="topup", reference=f"topup:{topup_id}", now=now, legs=[
        Leg(line.credit_account_id, Money(priced.list_minor, operator.currency), tracked=True),
        *paid_by,
        *([Leg(expense, -discount)] if discount.minor else []),
        Leg(line.bonus_account_id, bonus, tracked=True),
        Leg(expense, -bonus),
    ])
    price = paid
    if quote is not None and (quote.partner_code or quote.cashback_minor):  # no query for a renewal without either
        cashback.record_paid(session, quote, topup_id=topup_id, price_minor=paid.minor, now=now)
    left = lines.apply_validity(session, line=line, operator=operator, validity_ends_at=new_end, reason="topup",
                                now=now)
    row = dict(
        id=topup_id, principal=principal, idempotency_key=idempotency_key, request_hash=request_hash,
        line_id=line.id, msisdn=number, offer_id=offer.id, channel=channel, status=COMPLETED,
        price_minor=price.minor, bonus_minor=bonus.minor, currency=price.currency,
        validity_before=line.validity_ends_at, validity_ends_at=new_end, journal_entry_id=entry_id, created_at=now,
        quote_id=quote.id if quote else None,
    )
    repository.add(session, row)
    details = {"topup_id": str(topup_id), "msisdn": number, "operator_id": operator.id, "amount": price.to_dict(),
               "bonus": bonus.to_dict(), "validity_ends_at": new_end.isoformat(), "timezone": operator.timezone}
    outbox.enqueue(session, [
        *(events.line_state_changed(session, line, left, ACTIVE, now) if left else []),
        outbox.Message(dedup_key=f"topup.completed:{topup_id}", topic="topup.completed", channel=outbox.SMS,
                       recipient=number, language=line.language, line_id=line.id, payload={**details, **(notify or {})}),
        *events.event_messages(session, topic="topup.completed", key=str(topup_id), line_id=line.id, now=now,
                               data={**details, "channel": channel, "offer_id": offer.id}),
    ], now=now)
    return TopUpResult(TopUp(**row), replayed=False)


def _renewable(session: Session, number: str, locked: tuple[LockedLine, OperatorRules, OfferTerms | None] | None,
               now: datetime) -> tuple[LockedLine, OperatorRules, OfferTerms]:
    """The locked line, its operator and the offer, or why it cannot be renewed now."""
    if locked is None:
        raise lines.no_live_line(session, number)
    line, operator, offer = locked
    if offer is None:
        raise OfferNotFound()
    if line.state not in RENEWABLE or now >= line.number_loss_at:
        raise LineNotRenewable()
    return line, operator, offer


def _price_and_use(session: Session, target: QuoteFor, line: LockedLine, operator: OperatorRules,
                   offer: OfferTerms, channel: str, now: datetime, price: Money | None, topup_id: uuid.UUID):
    """(quote or None, priced, new validity end) for a top-up priced as it is made. A campaign whose budget runs
    out between pricing and taking it is left out and the renewal priced again, so nobody is refused for it."""
    campaigns = promotions.live_campaigns(session, now)
    facts = _facts(session, line, operator)
    left_out: set = set()
    while True:
        priced = _priced(offer, operator, channel, now, facts, campaigns, price=price, exclude=frozenset(left_out))
        new_end = _new_validity(operator, line, offer, priced, now)
        try:
            quote = promotions.use_priced(session, target, priced, validity_ends_at=new_end, topup_id=topup_id,
                                          now=now)
        except PromotionUnavailable as exc:
            left_out.add(uuid.UUID(str(exc.details["promotion_id"])))
            continue
        return quote, priced, new_end


def quote(session: Session, *, msisdn: str, offer_id: str, channel: str, now: datetime, region: str = "FR",
          code: str | None = None, partner_code: str | None = None, fixed_price: Money | None = None,
          minutes: int = promotions.QUOTE_MINUTES) -> Quote:
    """What renewing this number with this offer through this channel costs now, held for `minutes`: the list
    price, each campaign applied and why, the price to pay, the bonus credit and days and the new validity end.
    Every channel shows this and `top_up(quote_id=...)` charges exactly it. `fixed_price`: a recharge card's face
    value (discounts cannot change it; bonuses still apply)."""
    if channel not in ledger.CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(ledger.CHANNELS)}")
    number = lookup_msisdn(msisdn, region)
    line, operator, offer = _renewable(session, number, lines.lock_live_line(session, number, offer_id), now)
    campaigns = promotions.live_campaigns(session, now)
    priced = _priced(offer, operator, channel, now, _facts(session, line, operator), campaigns, price=fixed_price,
                     code=code)
    promotions.check_code(code, priced, campaigns)
    target = QuoteFor(line.id, number, operator.id, offer.id, channel, operator.currency)
    return promotions.issue(session, target, priced, validity_ends_at=_new_validity(operator, line, offer, priced, now),
                            now=now, code=code, partner_code=partner_code, minutes=minutes)


@dataclass(frozen=True, slots=True)
class Preview:
    """One offer priced for a line now, by the same rule as `quote`, without storing a quote (a list of offers to
    choose from; the one chosen is then quoted and that quote charged)."""

    offer: OfferTerms | Offer
    priced: pricing.Priced
    validity_ends_at: datetime


def preview(session: Session, *, line, operator: OperatorRules | Operator, offers: Sequence[OfferTerms | Offer],
            channel: str, now: datetime, code: str | None = None) -> list[Preview]:
    """Each offer as `quote` would price it for this line (a `Line` or `LockedLine`), channel and instant; offers
    past the operator's validity cap are left out (`ValidityCapReached`)."""
    campaigns = promotions.live_campaigns(session, now)
    facts = _facts(session, line, operator)
    found = []
    for offer in offers:
        priced = _priced(offer, operator, channel, now, facts, campaigns, code=code)
        try:
            found.append(Preview(offer, priced, _new_validity(operator, line, offer, priced, now)))
        except ValidityCapReached:
            continue
    return found


def _priced(offer: OfferTerms | Offer, operator: OperatorRules | Operator, channel: str, now: datetime, facts: pricing.Facts,
            campaigns: list[pricing.Campaign], *, price: Money | None = None, code: str | None = None,
            exclude: frozenset = frozenset()) -> pricing.Priced:
    list_price, bonus = catalog.price_of(offer, operator)
    return pricing.price(list_minor=(price or list_price).minor, offer_bonus_minor=bonus.minor,
                         validity_days=offer.validity_days, currency=operator.currency, offer_id=offer.id,
                         channel=channel, now=now, facts=facts, campaigns=campaigns, code=code,
                         fixed_price=price is not None, exclude=exclude)


def _facts(session: Session, line: LockedLine, operator: OperatorRules | Operator) -> pricing.Facts:
    return pricing.Facts(operator_id=operator.id, state=line.state, language=line.language,
                         first_renewal=lambda: not repository.has_topups(session, line.id),
                         uses_of=lambda promotion_id: promotions.uses_by_line(session, promotion_id, line.id))


def _new_validity(operator: OperatorRules | Operator, line: LockedLine, offer: OfferTerms | Offer, priced: pricing.Priced,
                  now: datetime) -> datetime:
    return rules.extended_validity(operator, line.validity_ends_at, offer.validity_days, now,
                                   bonus_days=priced.bonus_days)


def request_hash_of(number: str, offer_id: str, channel: str, *extra: str) -> str:
    """What identifies a top-up request beside its idempotency key."""
    return idempotency.fingerprint(number, offer_id, channel, *extra)


def validity_without(current_end: datetime, topup: TopUp) -> datetime:
    """The validity end had this top-up never happened: later top-ups keep what they added (a refund, a void)."""
    added = topup.validity_ends_at - max(topup.validity_before, topup.created_at)
    return topup.validity_before if current_end == topup.validity_ends_at else current_end - added


def get_topup(session: Session, topup_id) -> TopUp:
    return repository.get(session, topup_id)


def for_line(session: Session, line_id, *, before: datetime | None = None, limit: int = 50) -> list[TopUp]:
    return repository.for_line(session, line_id, before=before, limit=limit)


def ids_for_line(session: Session, line_id) -> list[uuid.UUID]:
    """Every top-up of the line (the audit rows about them belong to its timeline)."""
    return repository.ids_for_line(session, line_id)
