"""/healthz says the process answers; /readyz says it can serve: the database, the schema at head, a live worker."""

from __future__ import annotations

import os
import socket

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from simkeep.db import Database
from simkeep.main import create_app
from simkeep.ops.health import script_head
from simkeep.ops.models import WorkerHeartbeat
from simkeep.worker import Heartbeat, make_jobs, run_round
from tests.web import FrozenClock, freeze_clock


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    return freeze_clock(monkeypatch)


def beats(db) -> list[WorkerHeartbeat]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(WorkerHeartbeat)))


def test_ready_once_a_worker_beats_and_not_after_it_went_quiet(client, db, settings, clock):
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "failing", "failing": ["worker"], "checks": {
        "database": {"ok": True, "detail": db.dialect},
        "migrations": {"ok": True, "detail": f"at head {script_head()}"},
        "worker": {"ok": False, "detail": "no worker has ever beaten: start `simkeep worker`"}}}

    Heartbeat(db)()
    clock.advance(seconds=settings.worker_heartbeat_stale_seconds)
    answer = client.get("/readyz")
    assert (answer.status_code, answer.json()["status"], answer.json()["failing"]) == (200, "ok", [])
    assert answer.json()["checks"]["worker"] == {"ok": True, "detail": "last beat 120 s ago"}

    clock.advance(seconds=1)
    answer = client.get("/readyz")
    assert (answer.status_code, answer.json()["failing"]) == (503, ["worker"])
    assert answer.json()["checks"]["worker"]["detail"] == "last beat 121 s ago (stale after 120 s)"


def test_a_schema_behind_the_code_is_not_ready(client, db, clock):
    Heartbeat(db)()
    with db.transaction() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0025'"))
    try:
        answer = client.get("/readyz")
    finally:
        with db.transaction() as session:
            session.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": script_head()})
    assert (answer.status_code, answer.json()["failing"]) == (503, ["migrations"])
    assert answer.json()["checks"]["migrations"]["detail"] == (
        f"database at 0025, code expects {script_head()}: run `simkeep db upgrade`")


def test_without_a_database_the_process_is_alive_but_not_ready(settings):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = Database(f"postgresql+psycopg://postgres@127.0.0.1:{port}/nothing")
    with TestClient(create_app(settings, gone)) as client:
        assert client.get("/healthz").json() == {"status": "ok", "database": "postgresql"}
        answer = client.get("/readyz")
    gone.dispose()
    assert (answer.status_code, answer.json()["failing"]) == (503, ["database", "migrations", "worker"])
    assert answer.json()["checks"]["database"] == {"ok": False, "detail": "unreachable (OperationalError)"}
    assert answer.json()["checks"]["worker"] == {"ok": False, "detail": "not checked: no database"}


def test_the_worker_beats_each_round_with_its_last_sweep_and_removes_its_row_when_it_stops(db, settings, clock):
    beat = Heartbeat(db)
    jobs = make_jobs(db, None, settings, stopping=lambda: False, beat=beat)
    assert jobs[0].name == "heartbeat"
    heartbeat, sweep = jobs[0], next(job for job in jobs if job.name == "sweep")
    run_round([heartbeat, sweep], settings=settings, stopping=lambda: False)
    [row] = beats(db)
    assert (row.host, row.pid, row.started_at, row.last_beat_at) == (socket.gethostname(), os.getpid(), clock.at,
                                                                    clock.at)
    assert row.last_sweep_seconds is None  # the sweep ran after this round's beat
    clock.advance(seconds=30)
    heartbeat.next_at = 0  # due again
    run_round([heartbeat], settings=settings, stopping=lambda: False)
    [row] = beats(db)
    assert row.last_beat_at == clock.at and row.last_sweep_seconds is not None and row.last_sweep_seconds >= 0
    beat.stop()
    assert beats(db) == []


def test_a_new_worker_forgets_rows_silent_for_a_day(db, clock):
    Heartbeat(db)()  # a worker that died without a word
    clock.advance(days=1, seconds=1)
    Heartbeat(db)()
    assert [row.started_at for row in beats(db)] == [clock.at]
