"""A server-side session opened directly in the table, as if the browser had got there through the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from simkeep.db import Database
from simkeep.session import service as sessions
from simkeep.web.sessions import COOKIE

POLICY = sessions.Policy(idle=timedelta(hours=2), absolute=timedelta(days=14))


def open_session(db: Database, client, data: dict, *, now: datetime | None = None,
                 policy: sessions.Policy = POLICY) -> str:
    """Store `data` as a portal session and give the client its cookie; returns the token."""
    with db.transaction() as session:
        _row, token = sessions.create(session, data=data, policy=policy, now=now or datetime.now(UTC))
    client.cookies.set(COOKIE, token)
    return token
