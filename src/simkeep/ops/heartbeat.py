"""The worker's heartbeat: a row per worker process, beaten at each round, that /readyz and the metrics read.

A worker that stops cleanly removes its row; one that died leaves it to go stale, and rows silent for a day are
removed by the next worker's start (a restarted machine must not keep a dead pid forever)."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from simkeep.core.ids import new_id
from simkeep.ops import repository
from simkeep.ops.models import WorkerHeartbeat

FORGET_AFTER = timedelta(days=1)


def start(session: Session, *, now: datetime) -> uuid.UUID:
    """Register this process; returns its heartbeat id."""
    repository.remove_older_than(session, now - FORGET_AFTER)
    heartbeat_id = new_id()
    repository.add(session, id=heartbeat_id, host=socket.gethostname()[:255], pid=os.getpid(), started_at=now,
                   last_beat_at=now, last_sweep_seconds=None)
    return heartbeat_id


def beat(session: Session, heartbeat_id: uuid.UUID, *, now: datetime, sweep_seconds: float | None = None) -> None:
    """Move this worker's last beat to `now` (with the duration of a sweep it just ran); a row removed meanwhile
    (by hand) is written again, so a running worker is never invisible."""
    if not repository.beat(session, heartbeat_id, now=now, sweep_seconds=sweep_seconds):
        repository.add(session, id=heartbeat_id, host=socket.gethostname()[:255], pid=os.getpid(), started_at=now,
                       last_beat_at=now, last_sweep_seconds=sweep_seconds)


def stop(session: Session, heartbeat_id: uuid.UUID) -> None:
    repository.remove(session, heartbeat_id)


def newest(session: Session) -> WorkerHeartbeat | None:
    return repository.newest(session)


def alive(session: Session, *, now: datetime, stale_after: timedelta) -> list[WorkerHeartbeat]:
    return repository.alive_since(session, now - stale_after)
