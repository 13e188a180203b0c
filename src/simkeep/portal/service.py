"""What the portal shows and does: offers with the validity they buy, a line's status, a checked order, paying,
and redeeming a recharge card.

No web framework here: the pages turn these answers and errors into redirects and templates."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from simkeep.catalog import service as catalog
from simkeep.catalog.models import Offer, Operator
from simkeep.config import Settings
from simkeep.core.errors import (
    Conflict,
    IdempotencyKeyReused,
    LineNotFound,
    LineNotRenewable,
    SimkeepError,
    ValidityCapReached,
)
from simkeep.core.ids import new_id
from simkeep.core.money import Money
from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.line.models import RENEWABLE, Line
from simkeep.notification import service as notifications
from simkeep.payment import flow
from simkeep.payment import service as payments
from simkeep.payment.models import PaymentAttempt
from simkeep.payment.service import TransferDetails
from simkeep.promotion import service as promotions
from simkeep.promotion.models import OPEN as QUOTE_OPEN
from simkeep.promotion.models import Quote
from simkeep.receipt import service as receipts
from simkeep.topup import service as topups
from simkeep.topup.models import TopUp
from simkeep.voucher import pins
from simkeep.voucher import service as vouchers

DEFAULT_OPERATOR = "fr-orange-mobicarte"
CHANNEL = "portal"  # the channel the portal's quotes are for (and online payments charge)


class OperatorMismatch(Conflict):
    code, message = "operator_mismatch", "This offer is not sold for this number's operator."


@dataclass(frozen=True)
class OfferQuote:
    """What an offer buys. Without a line nothing is promised: no date computed from today, only the offer's days
    (a line already valid for longer may gain nothing from them)."""

    offer: Offer
    validity_ends_at: datetime | None = None  # the line's new validity end; None without a line or past the cap
    over_cap: bool = False  # the operator's cap would be passed: not for sale to this line
    credit_only: bool = False  # the line stays valid until the same date: the offer adds credit, no validity
    price_minor: int | None = None  # this line's price now by the pricing rule (campaigns applied); None: list price
    month_by_month_minor: int | None = None  # a multi-month offer: its periods bought one at a time, at list price

    @property
    def shown_minor(self) -> int:
        """The price the offer list shows: this line's when it is known, else the list price."""
        return self.offer.price_minor if self.price_minor is None else self.price_minor

    @property
    def saving_minor(self) -> int:
        """What the multi-month offer saves against its periods bought one at a time (both at list price)."""
        return max(self.month_by_month_minor - self.offer.price_minor, 0) if self.month_by_month_minor else 0


@dataclass(frozen=True)
class OfferChoice:
    operators: list[Operator]
    operator: Operator  # the one whose offers are quoted
    quotes: list[OfferQuote]


@dataclass(frozen=True)
class LineStatus:
    view: lines.LineView
    days_to_loss: int
    renewable: bool
    topups: list
    receipts: dict
    payments: list
    transfers: list[TransferDetails]  # bank transfers still awaited, newest first


@dataclass(frozen=True)
class Order:
    """A renewal that may be paid: a live, renewable line and an offer of its operator that the cap allows."""

    line: Line
    operator: Operator
    quote: OfferQuote


@dataclass(frozen=True)
class PaymentOutcome:
    attempt: PaymentAttempt
    operator: Operator
    topup: object | None  # None unless `full`
    receipt_token: str | None  # None unless `full`
    days: int = 0  # the days of validity the offer adds
    full: bool = False  # False: the payer did not verify the number, so nothing of the line's is shown
    credit_only: bool = False  # the top-up added credit and left the validity where it was
    transfer: TransferDetails | None = None  # a bank transfer still awaited

    def context(self) -> dict:
        return {"attempt": self.attempt, "operator": self.operator, "topup": self.topup,
                "receipt_token": self.receipt_token, "days": self.days, "full": self.full,
                "credit_only": self.credit_only, "transfer": self.transfer}


# -- offers and status -------------------------------------------------------------------------------------------

def quote_offers(session: Session, operator: Operator, offers: list[Offer], *, line=None,
                 now: datetime) -> list[OfferQuote]:
    """The validity each offer buys this line, by its operator's stacking rule (an offer that extends to `now +
    days` gives nothing to a line valid beyond that), and its price for this line now by the one pricing rule (a
    preview: the price charged is the quote's, made when the payer picks one); without a line, only the offers at
    list price. Multi-month offers carry what their periods cost bought one at a time."""
    singles = month_prices(session, operator)
    if line is None:
        return [OfferQuote(offer, month_by_month_minor=_month_by_month(offer, singles)) for offer in offers]
    # Offers past the validity cap are left out of the preview: they are listed as such, at list price.
    previews = {p.offer.id: p for p in topups.preview(session, line=line, operator=operator, offers=offers,
                                                      channel=CHANNEL, now=now)}
    quotes = []
    for offer in offers:
        monthly = _month_by_month(offer, singles)
        if (seen := previews.get(offer.id)) is None:
            quotes.append(OfferQuote(offer, over_cap=True, price_minor=offer.price_minor, month_by_month_minor=monthly))
            continue
        end = seen.validity_ends_at
        quotes.append(OfferQuote(offer, end, credit_only=end <= line.validity_ends_at,
                                 price_minor=seen.priced.price_minor, month_by_month_minor=monthly))
    return quotes


def month_prices(session: Session, operator: Operator) -> dict[int, int]:
    """The list price of each single-period offer of this operator, by its days (the cheapest for a length)."""
    offers = next((offers for op, offers in catalog.list_operators(session) if op.id == operator.id), [])
    found: dict[int, int] = {}
    for offer in offers:
        if offer.periods == 1 and offer.bonus_minor == 0:
            found[offer.validity_days] = min(found.get(offer.validity_days, offer.price_minor), offer.price_minor)
    return found


def _month_by_month(offer: Offer, singles: dict[int, int]) -> int | None:
    """A multi-month offer's periods bought one at a time, at the single-period offer's list price; None when the
    offer is a single period or the operator sells no single period of that length."""
    if offer.periods <= 1 or offer.validity_days % offer.periods:
        return None
    single = singles.get(offer.validity_days // offer.periods)
    return None if single is None else single * offer.periods


def offer_choice(session: Session, operator_id: str, *, line=None, now: datetime) -> OfferChoice:
    """Every operator, and the quoted offers of the one asked for (the first one if it is unknown)."""
    rows = catalog.list_operators(session)
    operator, offers = next(((op, offers) for op, offers in rows if op.id == operator_id), rows[0])
    return OfferChoice([op for op, _ in rows], operator, quote_offers(session, operator, offers, line=line, now=now))


def status(session: Session, msisdn: str, *, now: datetime) -> LineStatus:
    line = lines.find_line(session, msisdn)
    view = lines.view(session, line)
    recent = topups.for_line(session, line.id, limit=5)
    attempts = payments.recent_for_line(session, line.id)
    return LineStatus(view=view, days_to_loss=max((line.number_loss_at - now).days, 0),
                      renewable=line.state in RENEWABLE and now < line.number_loss_at, topups=recent,
                      receipts=receipts.by_topup(session, [t.id for t in recent]), payments=attempts,
                      transfers=[t for t in map(payments.transfer_details, attempts) if t is not None])


def statuses(session: Session, numbers: Collection[str], *, now: datetime) -> list[LineStatus]:
    found = []
    for msisdn in numbers:
        try:
            found.append(status(session, msisdn, now=now))
        except SimkeepError:
            continue  # the line ended since this browser signed in
    return found


def set_reminders(session: Session, msisdn: str, *, on: bool, now: datetime) -> None:
    if on:
        notifications.opt_in(session, msisdn=msisdn)
    else:
        notifications.opt_out(session, msisdn=msisdn, now=now)


# -- renewal: check the order, pay, come back --------------------------------------------------------------------

def renewal_order(session: Session, *, msisdn: str, offer_id: str, now: datetime) -> Order:
    """Raises LineNotFound without a live line, else the reason this offer cannot renew it."""
    line = lines.find_live_line(session, msisdn)
    if line is None:
        raise LineNotFound()
    operator = catalog.get_operator(session, line.operator_id)
    if catalog.operator_of_offer_or_none(session, offer_id) != line.operator_id:
        raise OperatorMismatch()
    offer = catalog.get_offer(session, offer_id, operator)
    [quote] = quote_offers(session, operator, [offer], line=line, now=now)
    if line.state not in RENEWABLE:
        raise LineNotRenewable()
    if quote.over_cap:
        raise ValidityCapReached()
    return Order(line, operator, quote)


def price_order(session: Session, order: Order, *, now: datetime, code: str | None = None,
                partner_code: str | None = None, minutes: int = promotions.QUOTE_MINUTES) -> Quote:
    """The quote the summary shows and the payment charges (topup.quote, the one rule). Raises PromoCodeInvalid
    for a code that brings no campaign (nothing is stored then)."""
    return topups.quote(session, msisdn=order.line.msisdn, offer_id=order.quote.offer.id, channel=CHANNEL, now=now,
                        code=code, partner_code=partner_code, minutes=minutes)


def held_quote(session: Session, quote_id: str | None, order: Order, *, now: datetime) -> Quote | None:
    """The wizard's quote when it still prices this order: for this line and offer, not paid, not expired."""
    quote = promotions.find_quote(session, quote_id) if quote_id else None
    if quote is None or (quote.line_id, quote.offer_id, quote.channel) != (order.line.id, order.quote.offer.id, CHANNEL):
        return None
    return quote if quote.state == QUOTE_OPEN and now < quote.expires_at else None


def find_quote(session: Session, quote_id: str | None) -> Quote | None:
    return promotions.find_quote(session, quote_id) if quote_id else None


def same_terms(a: Quote, b: Quote) -> bool:
    """Whether two quotes tell the payer the same price and what it brings (the summary's figures)."""
    def terms(q: Quote) -> tuple:
        return (q.currency, q.list_minor, q.price_minor, q.bonus_minor, q.bonus_days, q.cashback_minor,
                [(x["name"], x["benefit"]) for x in q.applied])
    return terms(a) == terms(b)


def start_payment(db: Database, settings: Settings, order: Order, *, checkout_key: str, method: str,
                  language: str, quote_id) -> tuple[uuid.UUID, dict | None]:
    """(attempt id, the payer's next action or None): the checked order, paid through the payment flow at exactly
    the quote shown. Raises the quote errors (QuoteExpired, PromotionUnavailable...) with nothing recorded."""
    return flow.start_checkout(db, settings, line=order.line, operator=order.operator, offer=order.quote.offer,
                               checkout_key=checkout_key, method=method, language=language, quote_id=quote_id)


def payment_outcome(session: Session, attempt_id: str, *, numbers: Collection[str], own: Collection[str],
                    secret: str) -> PaymentOutcome | None:
    """The attempt with what its pages show, or None if unknown or not this browser's to see.

    A browser that verified the number (signed in with its code) sees everything: the new validity date and the
    receipt. A browser that only paid (the attempt is one it started: `own`) sees what it did, with nothing of
    the line's: the amount, the number it typed, the days of validity added; no date, no balance, no receipt
    (the receipt goes to the line by SMS, and to its signed-in holder under /lines)."""
    try:
        attempt = payments.get_attempt(session, attempt_id)
    except SimkeepError:
        return None
    full = attempt.msisdn in numbers
    if not full and str(attempt.id) not in own:
        return None
    line = lines.find_line(session, attempt.msisdn)
    operator = catalog.get_operator(session, line.operator_id)
    days = catalog.get_offer(session, attempt.offer_id, operator).validity_days
    topup = topups.get_topup(session, attempt.topup_id) if attempt.topup_id else None
    credit_only = topup is not None and topup.validity_ends_at <= topup.validity_before
    transfer = payments.transfer_details(attempt)
    if not full:
        return PaymentOutcome(attempt, operator, None, None, days=days, full=False, credit_only=credit_only,
                              transfer=transfer)
    token = receipts.token_for(secret, attempt.receipt_id) if attempt.receipt_id else None
    return PaymentOutcome(attempt, operator, topup, token, days=days, full=True, credit_only=credit_only,
                          transfer=transfer)


# -- recharge cards: the card decides the offer, nothing to pay -------------------------------------------------------

CARD_PRINCIPAL = "portal:card"  # whose idempotency keys the card form's are (one per form shown)
CARD_METHOD = "voucher"  # the receipt's payment method


@dataclass(frozen=True)
class CardOutcome:
    """A card redeemed on a line, with what its page shows. `full` as for payments: the browser verified the number,
    so it sees the new validity end, the balance and the receipt; otherwise only what it did."""

    topup: TopUp
    operator: Operator
    days: int  # the days of validity the card's offer adds
    credit_only: bool  # the top-up added credit and left the validity where it was
    full: bool
    balance: Money | None = None  # None unless `full`
    receipt_token: str | None = None  # None unless `full`

    def context(self) -> dict:
        return {"topup": self.topup, "operator": self.operator, "days": self.days, "credit_only": self.credit_only,
                "full": self.full, "balance": self.balance, "receipt_token": self.receipt_token}


def cards_accepted(settings: Settings) -> bool:
    """Whether recharge cards can be redeemed here (the PIN pepper and seal key are configured)."""
    return bool(settings.voucher_pepper and settings.voucher_seal_key)


def redeem_card(db: Database, settings: Settings, *, msisdn: str, pin: str, key: str, client: str, language: str,
                now: datetime) -> TopUp:
    """Redeem a card on a number through the one redemption of every channel, with a receipt like a payment's (its
    link in the confirmation SMS). The same form sent twice (the same key and PIN) answers the first top-up again.

    Raises VoucherInvalid for every PIN that does not redeem (the failure is committed first, so it counts towards
    the number's lockout), VoucherLocked, LineNotFound / LineNotRenewable for a number without a renewable line,
    ValidityCapReached when the card would pass the operator's cap (the card stays unused)."""
    keys = pins.keys(settings)
    try:
        return _redeem_card(db, settings, keys, msisdn=msisdn, pin=pin, key=key, client=client, language=language,
                            now=now)
    except IdempotencyKeyReused:
        # A form shown before another card was redeemed with it (Back, then a new PIN): a new request.
        return _redeem_card(db, settings, keys, msisdn=msisdn, pin=pin, key=f"{key}:{new_id().hex}", client=client,
                            language=language, now=now)


def _redeem_card(db: Database, settings: Settings, keys: pins.Keys, *, msisdn: str, pin: str, key: str,
                 client: str, language: str, now: datetime) -> TopUp:
    receipt_id = new_id()
    receipt_url = f"{settings.base_url}/receipts/{receipts.token_for(settings.key('receipt'), receipt_id)}"
    with db.transaction() as session:
        redemption = vouchers.redeem(session, msisdn=msisdn, pin=pin, via="portal", principal=CARD_PRINCIPAL,
                                     idempotency_key=key, client=client, keys=keys, now=now,
                                     region=settings.default_region,
                                     failures_allowed=settings.voucher_failures_per_number,
                                     failure_hours=settings.voucher_failure_hours,
                                     notify={"receipt_url": receipt_url})
        if redemption.result is not None and not redemption.result.replayed:
            topup = redemption.result.topup
            receipts.issue(session, receipt_id=receipt_id, topup=topup,
                           operator_id=catalog.operator_of_offer(session, topup.offer_id), line_id=topup.line_id,
                           payment_method=CARD_METHOD, language=language, now=now)
    return redemption.outcome().topup  # after the commit: a failure raises the one answer


def card_locked_until(session: Session, settings: Settings, msisdn: str, *, now: datetime) -> datetime | None:
    """When a number locked by wrong PINs may try a card again; None while it may."""
    return vouchers.locked_until(session, msisdn, now=now, failures_allowed=settings.voucher_failures_per_number,
                                 failure_hours=settings.voucher_failure_hours)


def card_outcome(session: Session, topup_id: str, *, numbers: Collection[str], own: Collection[str],
                 secret: str) -> CardOutcome | None:
    """A card's top-up with what its page shows, or None if unknown, not a card's, or not this browser's to see:
    a browser that verified the number sees everything, the one that redeemed the card (`own`) sees what it did."""
    try:
        topup = topups.get_topup(session, uuid.UUID(topup_id))
    except (SimkeepError, ValueError):
        return None
    if topup.channel != vouchers.VOUCHER_CHANNEL:
        return None
    full = topup.msisdn in numbers
    if not full and str(topup.id) not in own:
        return None
    operator = catalog.get_operator(session, catalog.operator_of_offer(session, topup.offer_id))
    days = catalog.get_offer(session, topup.offer_id, operator).validity_days
    credit_only = topup.validity_ends_at <= topup.validity_before
    if not full:
        return CardOutcome(topup, operator, days, credit_only, full=False)
    line = session.get_one(Line, topup.line_id)
    receipt = receipts.by_topup(session, [topup.id]).get(topup.id)
    return CardOutcome(topup, operator, days, credit_only, full=True, balance=lines.view(session, line).balance,
                       receipt_token=receipts.token_for(secret, receipt.id) if receipt else None)
