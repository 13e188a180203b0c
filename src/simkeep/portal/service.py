"""What the portal shows: offers with the validity they buy, a line's status, a quote before paying."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from simkeep.catalog import service as catalog
from simkeep.catalog.models import Offer, Operator
from simkeep.core.errors import ValidityCapReached
from simkeep.lifecycle import rules
from simkeep.line import service as lines
from simkeep.line.models import RENEWABLE
from simkeep.payment import service as payments
from simkeep.receipt import service as receipts
from simkeep.topup import service as topups


@dataclass(frozen=True)
class OfferQuote:
    offer: Offer
    validity_ends_at: datetime | None  # None: the operator's cap would be passed


@dataclass(frozen=True)
class LineStatus:
    view: lines.LineView
    days_to_loss: int
    renewable: bool
    topups: list
    receipts: dict
    payments: list


def operators(session: Session) -> list[tuple[Operator, list[Offer]]]:
    return catalog.list_operators(session)


def quote_offers(session: Session, operator: Operator, offers: list[Offer], *, line=None,
                 now: datetime) -> list[OfferQuote]:
    """The validity each offer buys: for this line if we know it, else for a new period starting today."""
    start = line.validity_ends_at if line is not None else now
    quotes = []
    for offer in offers:
        try:
            end = rules.extended_validity(operator, start, offer.validity_days, now)
        except ValidityCapReached:
            end = None
        quotes.append(OfferQuote(offer, end))
    return quotes


def status(session: Session, msisdn: str, *, now: datetime) -> LineStatus:
    line = lines.find_line(session, msisdn)
    view = lines.view(session, line)
    recent = topups.for_line(session, line.id, limit=5)
    return LineStatus(view=view, days_to_loss=max((line.number_loss_at - now).days, 0),
                      renewable=line.state in RENEWABLE and now < line.number_loss_at, topups=recent,
                      receipts=receipts.by_topup(session, [t.id for t in recent]),
                      payments=payments.recent_for_line(session, line.id))


def offer_with_operator(session: Session, offer_id: str) -> tuple[Operator, Offer]:
    operator = catalog.get_operator(session, catalog.operator_of_offer_or_none(session, offer_id) or "")
    return operator, catalog.get_offer(session, offer_id, operator)
