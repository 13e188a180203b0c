"""The promotion tables' SQL. A campaign's budget changes only in `take_budget` / `give_back_budget`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from simkeep.promotion.models import ACTIVE, RELEASED, Promotion, PromotionUse, Quote

_P = Promotion.__table__


def live(session: Session, now: datetime) -> list[Promotion]:
    return list(session.scalars(select(Promotion).where(
        Promotion.state == ACTIVE, Promotion.starts_at <= now, Promotion.ends_at > now)))


def promotions(session: Session, ids: list[uuid.UUID]) -> list[Promotion]:
    return list(session.scalars(select(Promotion).where(Promotion.id.in_(ids)))) if ids else []


def take_budget(session: Session, promotion_id, cost_minor: int, now: datetime) -> bool:
    """One use and its cost, only if the campaign is live and both budgets still hold them. A single conditional
    UPDATE: racing renewals queue on the campaign's row and each re-checks the budget after the one before."""
    done = session.connection().execute(update(_P).where(
        _P.c.id == promotion_id, _P.c.state == ACTIVE, _P.c.starts_at <= now, _P.c.ends_at > now,
        (_P.c.max_uses.is_(None)) | (_P.c.uses < _P.c.max_uses),
        (_P.c.budget_minor.is_(None)) | (_P.c.spent_minor + cost_minor <= _P.c.budget_minor),
    ).values(uses=_P.c.uses + 1, spent_minor=_P.c.spent_minor + cost_minor, updated_at=now))
    return done.rowcount == 1


def give_back_budget(session: Session, promotion_id, cost_minor: int, now: datetime) -> None:
    session.connection().execute(update(_P).where(_P.c.id == promotion_id).values(
        uses=_P.c.uses - 1, spent_minor=_P.c.spent_minor - cost_minor, updated_at=now))


def uses_by_line(session: Session, promotion_id, line_id) -> int:
    """This line's uses of the campaign that count toward its per-line limit (reserved or used)."""
    return session.scalar(select(func.count()).select_from(PromotionUse).where(
        PromotionUse.promotion_id == promotion_id, PromotionUse.line_id == line_id,
        PromotionUse.state != RELEASED)) or 0


def lock_quote(session: Session, quote_id) -> Quote | None:
    try:
        key = uuid.UUID(str(quote_id))
    except ValueError:
        return None
    return session.scalar(select(Quote).where(Quote.id == key).with_for_update())


def find_quote(session: Session, quote_id) -> Quote | None:
    try:
        return session.get(Quote, uuid.UUID(str(quote_id)))
    except ValueError:
        return None


def uses_of_quote(session: Session, quote_id) -> list[PromotionUse]:
    return list(session.scalars(select(PromotionUse).where(PromotionUse.quote_id == quote_id)))
