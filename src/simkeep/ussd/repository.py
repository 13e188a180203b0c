from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from simkeep.core.ids import new_id
from simkeep.ussd.models import ENDED, UssdSession

_SESSIONS = UssdSession.__table__  # plain UPDATEs: a step has no use for the ORM's bookkeeping of the row


def open_key(msisdn: str, smsc_session: int) -> str:
    return f"{msisdn}:{smsc_session}"


def locked_open(session: Session, msisdn: str, smsc_session: int) -> UssdSession | None:
    """The open session of this handset and SMSC session number, locked (PostgreSQL) so that a PDU delivered twice
    to two workers is acted on by one; SQLite's write transactions are serial already."""
    return session.scalars(select(UssdSession).where(UssdSession.open_key == open_key(msisdn, smsc_session))
                           .with_for_update().execution_options(populate_existing=True)).first()


def latest(session: Session, msisdn: str, smsc_session: int) -> UssdSession | None:
    """The handset's last session with this SMSC session number, open or ended."""
    return session.scalars(select(UssdSession).where(UssdSession.msisdn == msisdn,
                                                     UssdSession.smsc_session == smsc_session)
                           .order_by(UssdSession.started_at.desc()).limit(1)).first()


def open_sessions(session: Session, msisdn: str) -> list[UssdSession]:
    """The handset's open sessions as committed now, locked (one opened by a twin PDU since this transaction
    began is among them)."""
    return list(session.scalars(select(UssdSession).where(UssdSession.msisdn == msisdn,
                                                          UssdSession.open_key.is_not(None))
                                .with_for_update().execution_options(populate_existing=True)))


def start(session: Session, *, msisdn: str, smsc_session: int, line_id: uuid.UUID | None, state: str,
          language: str, sequence: int, now: datetime) -> UssdSession:
    """A new open session. A twin PDU opening it at the same time breaks the UNIQUE open key: IntegrityError, and
    Database.write's second try finds the twin's session."""
    ussd = UssdSession(id=new_id(), msisdn=msisdn, line_id=line_id, smsc_session=smsc_session,
                       open_key=open_key(msisdn, smsc_session), state=state, language=language, last_sequence=sequence,
                       outcome=None, started_at=now, updated_at=now, ended_at=None)
    session.add(ussd)
    session.flush()
    return ussd


def advance(session: Session, ussd: UssdSession, *, state: str, language: str, sequence: int, now: datetime,
            outcome: str | None = None) -> None:
    """The next step of a session; state ENDED closes it (its open key is freed for the SMSC to reuse)."""
    ended = state == ENDED
    session.execute(update(_SESSIONS).where(_SESSIONS.c.id == ussd.id).values(
        state=state, language=language, last_sequence=sequence, updated_at=now, outcome=outcome,
        open_key=None if ended else ussd.open_key, ended_at=now if ended else None))


def end(session: Session, session_id: uuid.UUID, *, outcome: str, at: datetime) -> None:
    session.execute(update(_SESSIONS).where(_SESSIONS.c.id == session_id, _SESSIONS.c.open_key.is_not(None))
                    .values(state=ENDED, open_key=None, outcome=outcome, ended_at=at))


def idle_since(session: Session, before: datetime, *, limit: int) -> list[UssdSession]:
    """Open sessions silent since `before` (or earlier), locked and skipped by other workers (PostgreSQL)."""
    stmt = (select(UssdSession).where(UssdSession.open_key.is_not(None), UssdSession.updated_at <= before)
            .order_by(UssdSession.updated_at).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def for_line(session: Session, line_id: uuid.UUID, *, before: datetime | None, limit: int) -> list[UssdSession]:
    stmt = select(UssdSession).where(UssdSession.line_id == line_id)
    if before is not None:
        stmt = stmt.where(UssdSession.started_at < before)
    return list(session.scalars(stmt.order_by(UssdSession.started_at.desc()).limit(limit)))
