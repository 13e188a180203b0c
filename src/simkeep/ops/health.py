"""Is this process worth sending traffic to? /healthz says the process answers (no database: a database outage
must not make a supervisor restart every web process); /readyz checks what a request needs: the database answers,
its schema is at the migration head this code was written for, and a worker has beaten recently (without one,
messages, payments and sweeps wait)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources

from alembic.script import ScriptDirectory
from sqlalchemy import text

from simkeep.core.failures import describe
from simkeep.db import Database
from simkeep.ops import heartbeat

DATABASE, MIGRATIONS, WORKER = "database", "migrations", "worker"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@lru_cache(maxsize=1)
def script_head() -> str:
    """The newest migration this code ships (simkeep/migrations; read once, the scripts never change at run time)."""
    head = ScriptDirectory(str(resources.files("simkeep") / "migrations")).get_current_head()
    if head is None:
        raise RuntimeError("no migration scripts found")
    return head


def readiness(db: Database, *, now: datetime, stale_after: timedelta) -> list[Check]:
    """Each check with its verdict; when the database cannot be reached, the others are not tried."""
    try:
        with db.transaction(write=False) as session:
            session.execute(text("SELECT 1"))
            at = list(session.execute(text("SELECT version_num FROM alembic_version")).scalars())
            beat = heartbeat.newest(session)
    except Exception as exc:  # the class only: a driver's message may carry connection parameters
        error = describe(exc).get("error", type(exc).__name__)
        return [Check(DATABASE, False, f"unreachable ({error})"),
                Check(MIGRATIONS, False, "not checked: no database"), Check(WORKER, False, "not checked: no database")]
    return [Check(DATABASE, True, db.dialect), _migrations(at, script_head()), _worker(beat, now, stale_after)]


def _migrations(at: list[str], head: str) -> Check:
    if at == [head]:
        return Check(MIGRATIONS, True, f"at head {head}")
    found = ", ".join(at) or "none"
    return Check(MIGRATIONS, False, f"database at {found}, code expects {head}: run `simkeep db upgrade`")


def _worker(beat, now: datetime, stale_after: timedelta) -> Check:
    if beat is None:
        return Check(WORKER, False, "no worker has ever beaten: start `simkeep worker`")
    age = (now - beat.last_beat_at).total_seconds()
    if age > stale_after.total_seconds():
        return Check(WORKER, False, f"last beat {age:.0f} s ago (stale after {stale_after.total_seconds():.0f} s)")
    return Check(WORKER, True, f"last beat {age:.0f} s ago")
