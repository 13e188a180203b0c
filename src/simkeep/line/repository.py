from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from simkeep.catalog.models import Offer, Operator
from simkeep.line.models import AVAILABLE, Line, LineEvent


def get(session: Session, line_id: uuid.UUID) -> Line:
    return session.get_one(Line, line_id)


def current_for_msisdn(session: Session, msisdn: str) -> Line | None:
    """The number's newest line: the live one if any, else the last one that held it."""
    return session.scalars(
        select(Line).where(Line.msisdn == msisdn).order_by(Line.created_at.desc(), Line.id.desc()).limit(1)
    ).first()


def lock_live(session: Session, msisdn: str, offer_id: str | None = None):
    """Lock the number's live line and read its operator (and an offer of that operator) in one round trip.
    Every money path on a line starts here, so concurrent top-ups and charges of one line serialise."""
    columns = [Line, Operator] + ([Offer] if offer_id is not None else [])
    stmt = (select(*columns).join(Operator, Operator.id == Line.operator_id)
            .where(Line.msisdn == msisdn, Line.state != AVAILABLE).with_for_update(of=Line))
    if offer_id is not None:
        stmt = stmt.outerjoin(Offer, (Offer.id == offer_id) & (Offer.operator_id == Line.operator_id))
    return session.execute(stmt).first()


def ever_held(session: Session, msisdn: str) -> bool:
    return session.scalar(select(exists().where(Line.msisdn == msisdn)))


def save_validity(session: Session, line: Line, **values) -> None:
    session.execute(update(Line.__table__).where(Line.__table__.c.id == line.id).values(**values))


def events(session: Session, line_id: uuid.UUID, before: datetime | None = None, limit: int = 50) -> list[LineEvent]:
    stmt = select(LineEvent).where(LineEvent.line_id == line_id)
    if before is not None:
        stmt = stmt.where(LineEvent.at < before)
    return list(session.scalars(stmt.order_by(LineEvent.at.desc()).limit(limit)))
