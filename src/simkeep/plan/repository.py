"""Queries of the plan domain: the campaigns known now (live or still to come) and the saved plans."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from simkeep.plan.models import KeepPlan
from simkeep.promotion.models import ACTIVE, Promotion, PromotionUse
from simkeep.topup.models import TopUp


def known_campaigns(session: Session, now: datetime) -> list[Promotion]:
    """Started campaigns not over yet, including those whose window opens later (a plan may wait for them)."""
    return list(session.scalars(select(Promotion).where(Promotion.state == ACTIVE, Promotion.ends_at > now)
                                .order_by(Promotion.starts_at, Promotion.id)))


def has_topups(session: Session, line_id) -> bool:
    return session.scalar(select(TopUp.id).where(TopUp.line_id == line_id).limit(1)) is not None


def uses_by_line(session: Session, line_id) -> dict:
    rows = session.execute(select(PromotionUse.promotion_id, PromotionUse.state).where(PromotionUse.line_id == line_id))
    counts: dict = {}
    for promotion_id, state in rows:
        if state in ("reserved", "used"):
            counts[promotion_id] = counts.get(promotion_id, 0) + 1
    return counts


def add_plan(session: Session, plan: KeepPlan) -> None:
    session.add(plan)
    session.flush()


def plans_of(session: Session, line_id) -> list[KeepPlan]:
    return list(session.scalars(select(KeepPlan).where(KeepPlan.line_id == line_id)
                                .order_by(KeepPlan.created_at.desc())))
