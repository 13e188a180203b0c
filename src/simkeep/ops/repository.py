"""Queries of the worker_heartbeats table (its only writer)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from simkeep.ops.models import WorkerHeartbeat

_H = WorkerHeartbeat.__table__


def add(session: Session, **row) -> None:
    session.execute(insert(_H).values(**row))


def beat(session: Session, heartbeat_id: uuid.UUID, *, now: datetime, sweep_seconds: float | None) -> bool:
    values: dict = {"last_beat_at": now}
    if sweep_seconds is not None:
        values["last_sweep_seconds"] = sweep_seconds
    return session.execute(update(_H).where(_H.c.id == heartbeat_id).values(**values)).rowcount == 1  # type: ignore[attr-defined]


def remove(session: Session, heartbeat_id: uuid.UUID) -> None:
    session.execute(delete(_H).where(_H.c.id == heartbeat_id))


def remove_older_than(session: Session, before: datetime) -> int:
    return session.execute(delete(_H).where(_H.c.last_beat_at < before)).rowcount  # type: ignore[attr-defined]


def newest(session: Session) -> WorkerHeartbeat | None:
    """The most recent beat (the index on last_beat_at: one row read however many workers ever ran)."""
    return session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.last_beat_at.desc(),
                                                            WorkerHeartbeat.id.desc()).limit(1)).first()


def alive_since(session: Session, since: datetime) -> list[WorkerHeartbeat]:
    return list(session.scalars(select(WorkerHeartbeat).where(WorkerHeartbeat.last_beat_at >= since)
                                .order_by(WorkerHeartbeat.started_at, WorkerHeartbeat.id)))
