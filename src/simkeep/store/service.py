"""Selling renewals over a store's counter: cash drawers, sales, voids.

Concurrency (DESIGN §7): locks are taken in one order, drawer → line. A cash sale locks its agent's open drawer
before the top-up locks the line, and closing a drawer locks it before summing its sales, so a sale either lands in
the sum or finds the drawer closed and moves nothing. A void locks the sale, then the drawer (cash), then the line.
Replays: a sale is UNIQUE per (agent, idempotency key) and its top-up per (principal "agent:<id>", key), so the same
form sent twice sells once; a drawer is UNIQUE per agent while open (`open_for`), so a double click opens one; a
guarded UPDATE closes a drawer once and voids a sale once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.catalog import service as catalog
from simkeep.core.errors import (
    Conflict,
    Forbidden,
    InsufficientBalance,
    InvalidInput,
    NotFound,
    OfferNotFound,
    VouchersNotConfigured,
)
from simkeep.core.ids import new_id
from simkeep.core.money import Money
from simkeep.core.phone import lookup_msisdn
from simkeep.ledger import service as ledger
from simkeep.ledger.service import Leg
from simkeep.line import service as lines
from simkeep.promotion import cashback
from simkeep.promotion.models import Quote
from simkeep.promotion.service import QUOTE_MINUTES
from simkeep.receipt import service as receipts
from simkeep.store.models import CARD, CASH, METHODS, VOUCHER, Drawer, Store, StoreSale
from simkeep.topup import service as topups
from simkeep.topup.service import TopUpResult
from simkeep.voucher import pins
from simkeep.voucher import service as vouchers
from simkeep.voucher.service import Redemption

CHANNEL = "agent"  # the top-up channel of every counter sale paid in cash or by card (a card's is `voucher`)


class StoreNotFound(NotFound):
    code, message = "store_not_found", "There is no such store."


class OtherStore(Forbidden):
    code, status, message = "store_forbidden", 403, "This belongs to another store."


class StoreClosed(Conflict):
    code, message = "store_closed", "This store has left the network and sells nothing."


class OperatorNotServed(InvalidInput):
    code, message = "store_operator_not_served", "This store does not sell this operator's renewals."


class PaymentMethodInvalid(InvalidInput):
    code, message = "store_method_invalid", "Pay in cash, by card on the store's terminal, or with a recharge card."


class TerminalReferenceRequired(InvalidInput):
    code, message = "store_terminal_ref_required", "Type the card terminal's authorisation reference."


class DrawerNotOpen(Conflict):
    code, message = "drawer_not_open", "Open your cash drawer first: cash sales go into it."


class DrawerAlreadyOpen(Conflict):
    code, message = "drawer_already_open", "Your cash drawer is already open."


class DrawerAlreadyClosed(Conflict):
    code, message = "drawer_already_closed", "This cash drawer is already closed."


class DrawerNotFound(NotFound):
    code, message = "drawer_not_found", "There is no such cash drawer."


class SaleNotFound(NotFound):
    code, message = "sale_not_found", "There is no such sale."


class SaleAlreadyVoided(Conflict):
    code, message = "sale_already_voided", "This sale is already voided."


class VoidWindowPassed(Conflict):
    code, message = "void_window_passed", "This sale is too old to void at the counter."


class VoucherSaleNotVoidable(Conflict):
    code, message = "void_voucher_sale", "A renewal paid with a recharge card cannot be voided: the card is spent."


class VoidCreditUsed(Conflict):
    code, message = "void_credit_used", "The customer has already used this credit: the sale cannot be voided."


@dataclass(frozen=True, slots=True)
class Seller:
    """Who sells: an agent (or store manager) of one store."""

    agent_id: uuid.UUID
    actor: str  # "staff:<username>", as the audit log names people
    store_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Commission:
    """The store's commission on a cash or card sale: a fixed amount for an offer listed, else a percentage."""

    percent: Decimal = Decimal(0)
    per_offer: dict[str, int] | None = None

    def of(self, offer_id: str, price: Money) -> Money:
        fixed = (self.per_offer or {}).get(offer_id)
        if fixed is not None:
            return Money(min(fixed, price.minor), price.currency)
        minor = (Decimal(price.minor) * self.percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return Money(int(minor), price.currency)


@dataclass(frozen=True, slots=True)
class SaleOutcome:
    """What `sell` did. A recharge card that does not redeem is committed as the voucher service's failure (it
    counts toward the number's lockout) and raised by `outcome()` after the commit, like every channel's."""

    sale: StoreSale | None
    replayed: bool = False
    redemption: Redemption | None = None

    def outcome(self) -> StoreSale:
        if self.sale is None:
            assert self.redemption is not None
            self.redemption.outcome()  # raises VoucherInvalid
        assert self.sale is not None
        return self.sale


# -- stores ---------------------------------------------------------------------------------------------------------

def get_store(session: Session, store_id: uuid.UUID) -> Store:
    store = session.get(Store, store_id)
    if store is None:
        raise StoreNotFound()
    return store


def in_store(row, store_id: uuid.UUID | None):
    """The row if it belongs to `store_id`; 404 when missing, 403 when it is another store's."""
    if row is None:
        raise NotFound()
    if row.store_id != store_id:
        raise OtherStore()
    return row


# -- drawers --------------------------------------------------------------------------------------------------------

def open_drawer(session: Session, *, seller: Seller, float_minor: int, now: datetime) -> Drawer:
    """Open the agent's drawer with the float they counted into it."""
    if float_minor < 0:
        raise InvalidInput("The float is a count of the cash in the drawer: zero or more.")
    store = _selling_store(session, seller.store_id)
    row = dict(id=new_id(), store_id=store.id, agent_id=seller.agent_id, open_for=seller.agent_id,
               currency=store.currency, opening_float_minor=float_minor, opened_at=now, closed_at=None,
               closed_by=None, expected_minor=None, counted_minor=None, difference_minor=None, journal_entry_id=None)
    try:
        with session.begin_nested():
            session.execute(insert(Drawer.__table__), [row])
    except IntegrityError as exc:  # UNIQUE(open_for): this agent's drawer is open (a double click, a second tab)
        raise DrawerAlreadyOpen() from exc
    audit.record(session, actor=seller.actor, action="drawer.opened", subject_type="drawer", subject_id=str(row["id"]),
                 reason="drawer opened", details={"float_minor": float_minor, "store_id": str(store.id)}, now=now)
    return Drawer(**row)


def open_drawer_of(session: Session, agent_id: uuid.UUID) -> Drawer | None:
    return session.scalars(select(Drawer).where(Drawer.open_for == agent_id)).first()


def expected_cash(session: Session, drawer: Drawer) -> int:
    """What the drawer should hold: its float and the cash sales into it that were not voided."""
    taken = session.scalar(select(func.coalesce(func.sum(StoreSale.amount_minor), 0))
                           .where(StoreSale.drawer_id == drawer.id, StoreSale.voided_at.is_(None)))
    return drawer.opening_float_minor + int(taken or 0)


def close_drawer(session: Session, *, drawer_id: uuid.UUID, store_id: uuid.UUID, counted_minor: int, by: str,
                 now: datetime) -> Drawer:
    """Close a drawer with the cash counted in it: expected vs counted, the difference posted against cash
    over/short (the store then owes what it counted). A drawer closes once."""
    if counted_minor < 0:
        raise InvalidInput("The counted cash is zero or more.")
    drawer = in_store(_lock_drawer(session, drawer_id), store_id)
    if drawer.closed_at is not None:
        raise DrawerAlreadyClosed()
    expected = expected_cash(session, drawer)
    difference = counted_minor - expected
    entry_id = None
    if difference:
        store = get_store(session, drawer.store_id)
        amount = Money(difference, drawer.currency)
        entry_id = ledger.post(session, kind="drawer_over_short", reference=f"drawer:{drawer.id}", now=now, legs=[
            Leg(store.account_id, -amount),
            Leg(ledger.system_account_id(ledger.CASH_OVER_SHORT, drawer.currency), amount),
        ])
    session.execute(update(Drawer.__table__).where(Drawer.id == drawer.id, Drawer.closed_at.is_(None)).values(
        open_for=None, closed_at=now, closed_by=by, expected_minor=expected, counted_minor=counted_minor,
        difference_minor=difference, journal_entry_id=entry_id))
    audit.record(session, actor=by, action="drawer.closed", subject_type="drawer", subject_id=str(drawer.id),
                 reason="drawer closed", details={"expected_minor": expected, "counted_minor": counted_minor,
                                                  "difference_minor": difference}, now=now)
    return session.get_one(Drawer, drawer.id, populate_existing=True)


def _lock_drawer(session: Session, drawer_id: uuid.UUID) -> Drawer | None:
    return session.scalars(select(Drawer).where(Drawer.id == drawer_id).with_for_update()
                           .execution_options(populate_existing=True)).first()


# -- sales ----------------------------------------------------------------------------------------------------------

def sell(session: Session, *, seller: Seller, msisdn: str, offer_id: str | None, method: str, idempotency_key: str,
         commission: Commission, receipt_url: Callable[[uuid.UUID], str], language: str, now: datetime,
         region: str = "FR", terminal_ref: str | None = None, pin: str | None = None,
         voucher_keys: pins.Keys | None = None, failures_allowed: int = 5, failure_hours: int = 24,
         quote_id: uuid.UUID | str | None = None) -> SaleOutcome:
    """Sell a renewal at the counter: the one top-up, a receipt (its link in the confirmation SMS), the sale row.

    Cash and card pay `quote_id`, the quote the agent showed (`quote`, channel `agent`): exactly its price is taken
    (QuoteExpired, QuoteUsed, QuoteMismatch, PromotionUnavailable refuse it with nothing moved: quote again).
    Without one the renewal is priced now by the same rule. The store's commission is a share of the price the
    customer actually paid (a campaign's discount is simkeep's cost, booked to promotion expense, not the store's).

    Cash goes into the agent's open drawer and is owed by the store; a card on the store's terminal waits in the
    card-present clearing with the terminal's reference; both earn the store its commission. A recharge card is
    redeemed by the voucher service (`via` agent) and earns none: the card was sold once already. `receipt_url`
    makes the verification link of a receipt id. Call `.outcome()` after the commit."""
    if method not in METHODS:
        raise PaymentMethodInvalid()
    number = lookup_msisdn(msisdn, region)
    earlier = _sale_by_key(session, seller.agent_id, idempotency_key)
    if earlier is not None:
        return SaleOutcome(earlier, replayed=True)
    store = _selling_store(session, seller.store_id)
    drawer = _drawer_for_cash(session, seller) if method == CASH else None
    receipt_id, sale_id = new_id(), new_id()
    notify = {"receipt_url": receipt_url(receipt_id), "store": store.name}
    principal = f"agent:{seller.agent_id}"
    serial = None
    earned: list[Money] = []  # the commission, known once the top-up has priced the offer
    if method == VOUCHER:
        if voucher_keys is None:
            raise VouchersNotConfigured()
        redemption = vouchers.redeem(session, msisdn=number, pin=pin or "", via=CHANNEL, principal=principal,
                                     idempotency_key=idempotency_key, client=f"store:{store.code}", keys=voucher_keys,
                                     now=now, region=region, failures_allowed=failures_allowed,
                                     failure_hours=failure_hours, notify=notify)
        if redemption.result is None:
            return SaleOutcome(None, redemption=redemption)
        result, serial = redemption.result, redemption.serial
        _check_operator(session, store, result.topup.offer_id)
    else:
        if offer_id is None:
            raise InvalidInput("Choose an offer.")
        _check_operator(session, store, offer_id)
        ref = (terminal_ref or "").strip()
        if method == CARD and not ref:
            raise TerminalReferenceRequired()

        def funding(price: Money) -> list[Leg]:
            cut = commission.of(offer_id, price)
            earned.append(cut)
            expense = Leg(ledger.system_account_id(ledger.STORE_COMMISSION, price.currency), -cut)
            if method == CASH:
                return [Leg(store.account_id, -(price - cut)), expense]
            return [Leg(ledger.clearing_account_id(price.currency, ledger.CARD_PRESENT), -price),
                    Leg(store.account_id, cut), expense]

        result = topups.top_up(session, principal=principal, idempotency_key=idempotency_key, msisdn=number,
                               offer_id=offer_id, channel=CHANNEL, now=now, region=region, notify=notify,
                               funding=funding, request_extra=(method, ref), topup_id=None, quote_id=quote_id)
        terminal_ref = ref or None
    if result.replayed:  # the top-up of this key exists and its sale row with it (same transaction)
        return SaleOutcome(_sale_by_key(session, seller.agent_id, idempotency_key), replayed=True)
    return SaleOutcome(_record_sale(session, result, seller=seller, store=store, sale_id=sale_id,
                                    receipt_id=receipt_id, method=method, drawer=drawer, key=idempotency_key,
                                    commission=earned[0] if earned else None, terminal_ref=terminal_ref,
                                    serial=serial, language=language, now=now))


def quote(session: Session, *, seller: Seller, msisdn: str, offer_id: str, now: datetime, region: str = "FR",
          code: str | None = None, minutes: int = QUOTE_MINUTES) -> Quote:
    """The price of this renewal at this counter now (channel `agent`), held for `minutes`: what the agent shows
    and what `sell(quote_id=...)` then takes. A promo code the customer gives works as on the portal
    (PromoCodeInvalid when it brings nothing). Refused for an operator the store does not sell."""
    store = _selling_store(session, seller.store_id)
    _check_operator(session, store, offer_id)
    return topups.quote(session, msisdn=msisdn, offer_id=offer_id, channel=CHANNEL, now=now, region=region,
                        code=code or None, minutes=minutes)


def held_quote(session: Session, quote_id, *, msisdn: str) -> Quote | None:
    """A counter quote of this number (any state), or None: what the line page shows when it names one."""
    try:
        found = session.get(Quote, uuid.UUID(str(quote_id)))
    except ValueError:
        return None
    return found if found is not None and found.msisdn == msisdn and found.channel == CHANNEL else None


def _record_sale(session: Session, result: TopUpResult, *, seller: Seller, store: Store, sale_id: uuid.UUID,
                 receipt_id: uuid.UUID, method: str, drawer: Drawer | None, key: str, commission: Money | None,
                 terminal_ref: str | None, serial: int | None, language: str, now: datetime) -> StoreSale:
    topup = result.topup
    issuer = receipts.Issuer(store=store.name, address=f"{store.address}, {store.postcode} {store.city}",
                             agent=seller.actor.removeprefix("staff:"))
    receipts.issue(session, receipt_id=receipt_id, topup=topup, operator_id=catalog.operator_of_offer(
        session, topup.offer_id), line_id=topup.line_id, payment_method=method, language=language, now=now,
        issuer=issuer)
    row = dict(id=sale_id, store_id=store.id, agent_id=seller.agent_id, idempotency_key=key,
               drawer_id=drawer.id if drawer else None, topup_id=topup.id, receipt_id=receipt_id,
               line_id=topup.line_id, msisdn=topup.msisdn, offer_id=topup.offer_id, method=method,
               amount_minor=topup.price_minor, currency=topup.currency,
               commission_minor=commission.minor if commission else 0, terminal_ref=terminal_ref,
               voucher_serial=serial, created_at=now, voided_at=None, voided_by=None, void_reason=None,
               void_entry_id=None)
    session.execute(insert(StoreSale.__table__), [row])
    return StoreSale(**row)


def _sale_by_key(session: Session, agent_id: uuid.UUID, key: str) -> StoreSale | None:
    return session.scalars(select(StoreSale).where(StoreSale.agent_id == agent_id,
                                                   StoreSale.idempotency_key == key)).first()


def _selling_store(session: Session, store_id: uuid.UUID) -> Store:
    store = get_store(session, store_id)
    if store.closed_at is not None:
        raise StoreClosed()
    return store


def _drawer_for_cash(session: Session, seller: Seller) -> Drawer:
    """The agent's open drawer, locked: a close waits for this sale, or this sale sees the drawer closed."""
    drawer = session.scalars(select(Drawer).where(Drawer.open_for == seller.agent_id).with_for_update()
                             .execution_options(populate_existing=True)).first()
    if drawer is None or drawer.closed_at is not None:
        raise DrawerNotOpen()
    return drawer


def _check_operator(session: Session, store: Store, offer_id: str) -> None:
    operator_id = catalog.operator_of_offer_or_none(session, offer_id)
    if operator_id is None:
        raise OfferNotFound()
    if store.operators and operator_id not in store.operators:
        raise OperatorNotServed()


def get_sale(session: Session, sale_id: uuid.UUID, *, store_id: uuid.UUID | None) -> StoreSale:
    """A sale of `store_id` (None: any store, for the back office); 403 if it is another store's."""
    sale = session.get(StoreSale, sale_id)
    if sale is None:
        raise SaleNotFound()
    return sale if store_id is None else in_store(sale, store_id)


# -- voids ----------------------------------------------------------------------------------------------------------

def void(session: Session, *, sale_id: uuid.UUID, store_id: uuid.UUID, by: str, reason: str, now: datetime,
         window: timedelta) -> StoreSale:
    """Void a sale (a store manager, within `window`): the top-up is reversed by a new ledger entry (nothing is
    deleted), the validity it bought is taken back, the receipt says voided and a cash sale leaves its drawer's
    expected cash. The customer's credit must still be there."""
    if not reason or not reason.strip():
        raise InvalidInput("Say why the sale is voided.")
    sale = session.scalars(select(StoreSale).where(StoreSale.id == sale_id).with_for_update()
                           .execution_options(populate_existing=True)).first()
    if sale is None:
        raise SaleNotFound()
    in_store(sale, store_id)
    if sale.voided_at is not None:
        raise SaleAlreadyVoided()
    if sale.method == VOUCHER:
        raise VoucherSaleNotVoidable()
    if now - sale.created_at > window:
        raise VoidWindowPassed()
    if sale.drawer_id is not None:
        drawer = _lock_drawer(session, sale.drawer_id)
        if drawer is None or drawer.closed_at is not None:
            raise DrawerAlreadyClosed()  # its cash was counted: a refund now goes through the back office
    locked = lines.lock_live_line(session, sale.msisdn)
    if locked is None or locked[0].id != sale.line_id:
        raise VoidCreditUsed()  # the line ended: its balance went with it
    line, operator = locked
    topup = topups.get_topup(session, sale.topup_id)
    store = get_store(session, sale.store_id)
    price, bonus = Money(topup.price_minor, topup.currency), Money(topup.bonus_minor, topup.currency)
    # A campaign's discount was credited to the line from promotion expense: it goes back there.
    paid_quote = session.get(Quote, topup.quote_id) if topup.quote_id else None
    discount = Money(paid_quote.discount_minor if paid_quote else 0, topup.currency)
    cut = Money(sale.commission_minor, sale.currency)
    expense = Leg(ledger.system_account_id(ledger.STORE_COMMISSION, price.currency), cut)
    paid_back = ([Leg(store.account_id, price - cut), expense] if sale.method == CASH else
                 [Leg(ledger.clearing_account_id(price.currency, ledger.CARD_PRESENT), price),
                  Leg(store.account_id, -cut), expense])
    try:
        entry_id = ledger.post(session, kind="void", reference=f"void:{sale.id}", now=now, legs=[
            Leg(line.credit_account_id, -(price + discount), tracked=True),
            Leg(line.bonus_account_id, -bonus, tracked=True),
            Leg(ledger.system_account_id(ledger.PROMOTION_EXPENSE, bonus.currency), bonus + discount),
            *paid_back,
        ])
    except InsufficientBalance as exc:
        raise VoidCreditUsed() from exc
    cashback.on_refund(session, topup.id, bonus_account_id=line.bonus_account_id, now=now)
    lines.shorten_validity(session, line=line, operator=operator,
                           validity_ends_at=topups.validity_without(line.validity_ends_at, topup), now=now)
    session.execute(update(StoreSale.__table__).where(StoreSale.id == sale.id, StoreSale.voided_at.is_(None)).values(
        voided_at=now, voided_by=by, void_reason=reason.strip()[:200], void_entry_id=entry_id))
    receipts.mark_voided(session, sale.receipt_id, now=now)
    audit.record(session, actor=by, action="store.sale_voided", subject_type="store_sale", subject_id=str(sale.id),
                 reason=reason, details={"store_id": str(sale.store_id), "amount_minor": sale.amount_minor,
                                         "method": sale.method, "line_id": str(line.id)}, now=now)
    return session.get_one(StoreSale, sale.id, populate_existing=True)
