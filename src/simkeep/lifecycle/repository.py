from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from simkeep.catalog.models import Offer, Operator
from simkeep.line.models import Line


def claim_due(session: Session, *, now: datetime, limit: int) -> list[Line]:
    """Lines whose schedule has come, locked. On PostgreSQL other workers skip them; on SQLite the write
    transaction already excludes other writers."""
    stmt = select(Line).where(Line.next_sweep_at <= now).order_by(Line.next_sweep_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def count_due(session: Session, *, now: datetime) -> int:
    return session.scalars(select(func.count()).select_from(Line).where(Line.next_sweep_at <= now)).one()


def operators(session: Session) -> dict[str, Operator]:
    return {op.id: op for op in session.scalars(select(Operator))}


def save_sweep_results(session: Session, rows: list[dict]) -> int:
    """Apply each line's new state and schedule, re-checking the state it was read in."""
    if not rows:
        return 0
    table = Line.__table__
    stmt = (update(table).where(table.c.id == bindparam("b_id"), table.c.state == bindparam("b_state"))
            .values(state=bindparam("new_state"), state_changed_at=bindparam("changed_at"),
                    reminded_offset=bindparam("reminded"), next_sweep_at=bindparam("next_at")))
    return session.connection().execute(stmt, rows).rowcount


def cheapest_offers(session: Session) -> dict[str, dict]:
    """Per operator, the smallest recharge that keeps a number: what a reminder proposes."""
    best: dict[str, dict] = {}
    for offer, currency in session.execute(select(Offer, Operator.currency).join(Operator, Operator.id == Offer.operator_id)
                                           .order_by(Offer.price_minor, Offer.validity_days.desc())):
        best.setdefault(offer.operator_id, {"id": offer.id, "validity_days": offer.validity_days,
                                            "amount": {"amount_minor": offer.price_minor, "currency": currency}})
    return best
