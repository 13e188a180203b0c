"""The pool after the database dropped every connection (a restart, a failover, an operator's
pg_terminate_backend): the next requests get live connections, not a 500 each."""

import threading

import httpx
import psycopg
import pytest

from simkeep.worker import Heartbeat
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="terminating backends needs PostgreSQL "
                                                   "(SIMKEEP_TEST_DATABASE_URL); SQLite has no server connections")


def terminate_all_but_mine(db) -> int:
    dsn = db.url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]


def test_the_api_keeps_answering_after_every_connection_was_terminated(live_server, db):
    Heartbeat(db)()  # /readyz (which reads the database, unlike /healthz) then answers 200 while the database does

    def burst(n: int) -> list[int]:  # concurrent requests, so the pool holds several connections
        codes: list[int] = []
        threads = [threading.Thread(target=lambda: codes.append(
            httpx.get(f"{live_server}/readyz", timeout=30).status_code)) for _ in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return codes

    assert burst(8) == [200] * 8
    assert terminate_all_but_mine(db) >= 2  # the server's pooled connections (and the test's own)
    assert burst(8) == [200] * 8  # no 500: each dead connection was noticed on checkout and replaced
    assert [httpx.get(f"{live_server}/readyz", timeout=30).status_code for _ in range(5)] == [200] * 5
