from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import RowMapping, insert, select, update
from sqlalchemy.orm import Session

from simkeep.db import insert_or_ignore
from simkeep.voice.models import VoiceCall, VoiceTurn


def add_call(session: Session, row: dict) -> bool:
    """Store a new call; False if the transport already started one with this id (a start sent twice)."""
    table = VoiceCall.__table__
    return session.connection().execute(insert_or_ignore(session, table).returning(table.c.id), row).first() is not None


def get(session: Session, transport: str, call_id: str) -> RowMapping | None:
    table = VoiceCall.__table__
    return session.connection().execute(select(table).where(table.c.transport == transport,
                                                            table.c.call_id == call_id)).mappings().first()


def lock(session: Session, call_id: str) -> RowMapping | None:
    """The call, locked until the transaction ends: two events of one call are handled one after the other
    (PostgreSQL's row lock; SQLite's write lock is already held). Call-IDs are unique in practice across
    transports; should two collide, the latest call is the live one. Core, not the ORM: a turn is a few
    statements, and the ORM's identity map and flush would cost as much as they do."""
    table = VoiceCall.__table__
    return session.connection().execute(select(table).where(table.c.call_id == call_id)
                                        .order_by(table.c.started_at.desc()).limit(1).with_for_update()
                                        ).mappings().first()


def save(session: Session, call_pk: uuid.UUID, values: dict) -> None:
    table = VoiceCall.__table__
    session.connection().execute(update(table).where(table.c.id == call_pk).values(**values))


def add_turn(session: Session, row: dict) -> None:
    session.execute(insert(VoiceTurn.__table__), [row])


def turns(session: Session, call_pk: uuid.UUID) -> list[VoiceTurn]:
    return list(session.scalars(select(VoiceTurn).where(VoiceTurn.call_id == call_pk).order_by(VoiceTurn.seq)))


def language_known(session: Session, line_id: uuid.UUID, caller: str) -> bool:
    """Whether a call from this line's own number got past the language menu (or began in the line's language)."""
    return session.scalars(select(VoiceCall.id).where(
        VoiceCall.line_id == line_id, VoiceCall.caller == caller, VoiceCall.language.is_not(None)).limit(1)
    ).first() is not None


def for_line(session: Session, line_id: uuid.UUID, *, before: datetime | None, limit: int) -> list[VoiceCall]:
    query = select(VoiceCall).where(VoiceCall.line_id == line_id)
    if before is not None:
        query = query.where(VoiceCall.started_at < before)
    return list(session.scalars(query.order_by(VoiceCall.started_at.desc()).limit(limit)))
