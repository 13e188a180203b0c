"""The audit log's hash chain: each entry hashes its content and the previous hash, appends never fork the chain
(raced on real connections), the database refuses UPDATE and DELETE, and the migration chains older entries."""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from simkeep.audit import chain, service
from simkeep.core.errors import InvalidInput
from simkeep.db import Database, JsonType, UtcDateTime
from simkeep.migrate import downgrade, upgrade
from tests.audit.helpers import entries, record_three, tamper
from tests.conftest import PG_URL, T0, _own_pg_database


def test_the_serialisation_is_canonical_json_with_a_version_tag():
    content = dict(seq=7, id=uuid.UUID("0192f0c4-0000-7000-8000-00000000002a"),
                   at=datetime(2027, 3, 1, 10, 0, 0, 5, tzinfo=UTC), actor="staff:zoé", action="refund.requested",
                   subject_type="payment_attempt", subject_id="42", reason="twice \"charged\"",
                   details={"b": 1.0, "a": [2.5, {"z": None, "y": True}]}, prev_hash="ab" * 32)
    text_ = chain.serialise(**content)
    assert text_ == ('["simkeep.audit/1",7,"0192f0c4-0000-7000-8000-00000000002a","2027-03-01T10:00:00.000005Z",'
                     '"staff:zoé","refund.requested","payment_attempt","42","twice \\"charged\\"",'
                     '{"a":[2.5,{"y":true,"z":null}],"b":1},"' + "ab" * 32 + '"]')
    assert chain.entry_hash(**content) == hashlib.sha256(text_.encode()).hexdigest()
    assert chain.entry_hash(**{**content, "details": {"a": [2.5, {"y": True, "z": None}], "b": 1}}) \
        == chain.entry_hash(**content)  # key order and 1.0 / 1 do not matter: JSONB keeps neither
    with pytest.raises(ValueError):
        chain.serialise(**{**content, "details": {"x": float("nan")}})


def test_entries_are_numbered_from_one_and_each_names_the_previous_hash(db):
    first, second, third = record_three(db)
    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    assert [e.prev_hash for e in (first, second, third)] == [chain.GENESIS, first.hash, second.hash]
    assert first.hash == chain.entry_hash(seq=1, id=first.id, at=T0, actor="staff:alice", action="refund.requested",
                                          subject_type="payment_attempt",
                                          subject_id="0192f0c4-0000-7000-8000-000000000001",
                                          reason="customer charged twice",
                                          details={"amount_minor": 1000, "currency": "EUR"},
                                          prev_hash=chain.GENESIS)
    with db.transaction(write=False) as session:
        verdict = service.verify(session)
    assert (verdict.entries, verdict.head_seq, verdict.head_hash, verdict.broken) == (3, 3, third.hash, None)


def test_a_reason_is_required_and_a_refused_entry_changes_nothing(db):
    record_three(db)
    with pytest.raises(InvalidInput), db.transaction() as session:
        service.record(session, actor="staff:alice", action="refund.requested", subject_type="payment_attempt",
                       subject_id="x", reason="  ", now=T0)
    assert [e.seq for e in entries(db)] == [1, 2, 3]


def test_a_rolled_back_entry_leaves_no_gap(db):
    record_three(db)
    with pytest.raises(RuntimeError), db.transaction() as session:
        service.record(session, actor="staff:alice", action="store.closed", subject_type="store",
                       subject_id="PAR-02", reason="lease ended", now=T0)
        raise RuntimeError("the money transaction failed after recording")
    with db.transaction() as session:
        service.record(session, actor="staff:alice", action="store.closed", subject_type="store",
                       subject_id="PAR-03", reason="lease ended", now=T0)
    assert [(e.seq, e.subject_id) for e in entries(db)][-1] == (4, "PAR-03")


def test_an_entry_recorded_in_a_savepoint_that_rolls_back_is_dropped(db):
    with db.transaction() as session:
        service.record(session, actor="staff:alice", action="store.updated", subject_type="store",
                       subject_id="KEPT-1", reason="kept", now=T0)
        with pytest.raises(RuntimeError), session.begin_nested():
            service.record(session, actor="staff:alice", action="store.updated", subject_type="store",
                           subject_id="GONE", reason="undone", now=T0)
            raise RuntimeError("the step failed: its savepoint rolls back")
        service.record(session, actor="staff:alice", action="store.updated", subject_type="store",
                       subject_id="KEPT-2", reason="kept", now=T0)
    assert [(e.seq, e.subject_id) for e in entries(db)] == [(1, "KEPT-1"), (2, "KEPT-2")]


@pytest.mark.skipif(not PG_URL, reason="SQLite lets one writer in at a time: the second could not begin")
def test_recording_does_not_hold_the_chain_until_the_commit(db):
    """A transaction that recorded and goes on locking rows does not hold the chain meanwhile (the chain's lock is
    taken in the commit, last): another transaction records and commits first, and gets the first seq."""
    with db.transaction() as first:
        service.record(first, actor="staff:alice", action="store.updated", subject_type="store",
                       subject_id="FIRST", reason="still working", now=T0)
        with db.transaction() as second:  # would wait for `first` forever if recording locked the chain
            service.record(second, actor="staff:bob", action="store.updated", subject_type="store",
                           subject_id="SECOND", reason="done quickly", now=T0)
    assert [(e.seq, e.subject_id) for e in entries(db)] == [(1, "SECOND"), (2, "FIRST")]


def test_twenty_writers_at_once_never_fork_the_chain_or_reuse_a_seq(db):
    """Real connections, each committing its own transaction, released together."""
    writers = 20
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            with db.transaction() as session:
                service.record(session, actor=f"staff:writer{n}", action="store.updated", subject_type="store",
                               subject_id=f"S{n:02}", reason="raced", now=T0)
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    written = entries(db)
    assert [e.seq for e in written] == list(range(1, writers + 1))
    assert sorted(e.subject_id for e in written) == [f"S{n:02}" for n in range(writers)]
    with db.transaction(write=False) as session:
        assert service.verify(session).broken is None


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 2",
                                 "DELETE FROM audit_log WHERE seq = 2", "DELETE FROM audit_log"])
def test_the_database_refuses_to_change_or_remove_an_entry(db, sql):
    before = [(e.seq, e.reason, e.hash) for e in record_three(db)]
    with pytest.raises(DBAPIError, match="audit_log is append-only"), db.engine.begin() as conn:
        conn.execute(text(sql))
    assert [(e.seq, e.reason, e.hash) for e in entries(db)] == before


@pytest.mark.skipif(not PG_URL, reason="TRUNCATE exists on PostgreSQL only")
def test_postgresql_refuses_a_truncate(db):
    record_three(db)
    with pytest.raises(DBAPIError, match="audit_log is append-only: TRUNCATE refused"), db.engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_log"))
    assert len(entries(db)) == 3


def test_verify_names_an_altered_entry(db):
    first, second, _ = record_three(db)
    tamper(db, "UPDATE audit_log SET reason = 'goodwill' WHERE seq = 2")
    with db.transaction(write=False) as session:
        verdict = service.verify(session)
    altered = chain.entry_hash(seq=2, id=second.id, at=second.at, actor=second.actor, action=second.action,
                               subject_type=second.subject_type, subject_id=second.subject_id, reason="goodwill",
                               details=second.details, prev_hash=first.hash)
    assert verdict.entries == 1 and (verdict.head_seq, verdict.head_hash) == (1, first.hash)
    assert verdict.broken == service.Break("content_altered", 2, second.id, second.at, expected=altered,
                                           found=second.hash)


OLD_AUDIT_LOG = sa.table("audit_log", sa.column("id", sa.Uuid()), sa.column("actor", sa.String()),
                         sa.column("action", sa.String()), sa.column("subject_type", sa.String()),
                         sa.column("subject_id", sa.String()), sa.column("reason", sa.String()),
                         sa.column("details", JsonType), sa.column("at", UtcDateTime()))
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="PostgreSQL runs with SIMKEEP_TEST_DATABASE_URL"))]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migration_chains_older_entries_in_the_order_they_were_made(backend, tmp_path):
    """Entries written before revision 0023 (no seq, no hash) are chained by (at, id), then guarded."""
    own = _own_pg_database(PG_URL) if backend == "postgresql" else None
    url = next(own) if own else f"sqlite:///{tmp_path / 'old.db'}"
    try:
        if own:
            downgrade(url, "0022")
        else:
            upgrade(url, "0022")
        ids = [uuid.UUID(f"0192f0c4-0000-7000-8000-00000000000{n}") for n in (1, 2, 3)]
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool)
        with engine.begin() as conn:
            for id_, minute in ((ids[2], 0), (ids[1], 5), (ids[0], 5)):  # made out of order; two at one instant
                conn.execute(OLD_AUDIT_LOG.insert().values(
                    id=id_, actor="staff:alice", action="refund.requested", subject_type="payment_attempt",
                    subject_id=str(id_), reason="why", details={"n": 1.0}, at=T0.replace(minute=minute)))
        engine.dispose()
        upgrade(url)
        database = Database(url)
        try:
            chained = [(e.seq, e.id) for e in entries(database)]
            with database.transaction(write=False) as session:
                verdict = service.verify(session)
            with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
                conn.execute(text("UPDATE audit_log SET reason = 'x'"))
        finally:
            database.dispose()
        assert chained == [(1, ids[2]), (2, ids[0]), (3, ids[1])]
        assert (verdict.entries, verdict.broken) == (3, None)
    finally:
        if own:
            own.close()


def test_no_code_updates_or_deletes_an_entry():
    """The guard in the code itself (the triggers are the database's): no statement anywhere in simkeep, outside
    the migration that chained the entries of before, updates or deletes audit_log."""
    source = Path(service.__file__).resolve().parent.parent
    pattern = re.compile(r"(update|delete)\(\s*AuditEntry|(UPDATE|DELETE FROM|TRUNCATE)\s+audit_log"
                         r"|AuditEntry\.__table__\.(update|delete)", re.IGNORECASE)
    found = [f"{path.relative_to(source)}:{n}" for path in source.rglob("*.py") if "migrations" not in path.parts
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert found == []


def test_details_that_are_not_json_are_refused_when_recorded(db):
    with db.transaction() as session:
        for details in ({"x": float("nan")}, {"when": T0}):
            with pytest.raises((ValueError, TypeError)):
                service.record(session, actor="staff:alice", action="store.updated", subject_type="store",
                               subject_id="S1", reason="moved", details=details, now=T0)
    assert entries(db) == []
