"""Plain functions that make rows through the services, each in its own committed transaction."""

from __future__ import annotations

from datetime import datetime
from itertools import count

from simkeep.db import Database
from simkeep.line import service as lines
from simkeep.line.models import Line
from simkeep.topup import service as topups
from simkeep.topup.service import TopUpResult

_keys = count(1)


def make_line(db: Database, *, msisdn: str = "+33612345678", operator_id: str = "fr-orange-mobicarte",
              language: str = "fr", now: datetime) -> Line:
    with db.transaction() as session:
        return lines.create_line(session, msisdn=msisdn, operator_id=operator_id, language=language, now=now)


def top_up(db: Database, *, msisdn: str = "+33612345678", offer_id: str = "fr-orange-mobicarte-10",
           key: str | None = None, channel: str = "api", principal: str = "test", now: datetime) -> TopUpResult:
    with db.transaction() as session:
        return topups.top_up(session, principal=principal, idempotency_key=key or f"k{next(_keys)}",
                             msisdn=msisdn, offer_id=offer_id, channel=channel, now=now)


def view(db: Database, msisdn: str = "+33612345678") -> lines.LineView:
    with db.transaction(write=False) as session:
        return lines.view(session, lines.find_line(session, msisdn))
