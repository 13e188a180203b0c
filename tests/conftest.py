"""Test databases: SQLite by default, PostgreSQL when SIMKEEP_TEST_DATABASE_URL is set (a database of the run's own
on that server, see _own_pg_database).

The schema comes from `alembic upgrade head`, so migrations are tested. Money paths are raced across real
connections that commit, so instead of a rolled-back transaction each test gets a fresh SQLite file (a copy of
the migrated template, the catalog loaded at T0) or PostgreSQL tables put back to that same state: the tables a
test wrote to are emptied (DELETE, children first: far cheaper than a TRUNCATE of every table, which creates new
files for each table and index) and the catalog's rows, read once after loading it at T0, are inserted again.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from simkeep.catalog import service as catalog
from simkeep.cli import app as cli_app
from simkeep.config import Settings, get_settings
from simkeep.db import Database
from simkeep.main import create_app
from simkeep.migrate import upgrade
from simkeep.models import Base
from simkeep.notification import events
from simkeep.payment.models import METHODS
from tests import route_memo

route_memo.install()
PG_URL = os.environ.get("SIMKEEP_TEST_DATABASE_URL")
ADMIN_TOKEN = "test-admin-token-0123456789abcdef0123456789abcdef"
TEST_SECRET = "test-secret-key-0123456789abcdef0123456789abcdef"
SANDBOX_SECRET = "whsec_test_0123456789abcdef0123456789abcdef"
VOUCHER_PEPPER = "test-voucher-pepper-0123456789abcdef0123456789"
VOUCHER_SEAL_KEY = "test-voucher-seal-key-0123456789abcdef012345"
ESIM_SEAL_KEY = "test-esim-seal-key-0123456789abcdef0123456789"
# The sandbox is off unless switched on, and collects only what is routed to it (nothing falls back to it).
SANDBOX_ROUTES = {"*": dict.fromkeys(METHODS, "sandbox")}
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday in winter time, four weeks before the DST change


@pytest.fixture(autouse=True)
def _quick_password_hashing(monkeypatch) -> None:
    """Argon2 at production cost takes ~0.5 s here; tests sign in often, so they use a cheap profile."""
    monkeypatch.setattr("simkeep.staff.service.HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    if PG_URL:
        yield from _own_pg_database(PG_URL)
    else:
        template = tmp_path_factory.mktemp("template") / "template.db"
        upgrade(f"sqlite:///{template}")
        _load_catalog(f"sqlite:///{template}")
        yield str(template)


def _load_catalog(url: str) -> None:
    """The state every test starts from: the migrated schema with the demo catalog loaded at T0."""
    database = Database(url)
    try:
        with database.transaction() as session:
            catalog.load_catalog(session, catalog.read_catalog(), now=T0)
    finally:
        database.dispose()


@pytest.fixture(scope="session")
def _pg_baseline(database_url: str) -> Iterator[tuple[Database, list]]:
    """PostgreSQL: the rows of the starting state (catalog loaded at T0), table by table in dependency order, and
    one engine that resets the tables before each test."""
    _load_catalog(database_url)
    database = Database(database_url)
    with database.engine.connect() as conn:
        baseline = [(table, [dict(row) for row in conn.execute(table.select()).mappings()])
                    for table in Base.metadata.sorted_tables]
    yield database, [(table, rows) for table, rows in baseline if rows]
    database.dispose()


def _reset_pg(database: Database, baseline: list) -> None:
    """Empty every table that holds rows (children before parents, so foreign keys hold at every step) and insert
    the starting state's rows again: the same rows as a TRUNCATE of every table and a catalog load at T0."""
    tables = Base.metadata.sorted_tables
    probe = " UNION ALL ".join(f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM {t.name})" for t in tables)
    with database.engine.begin() as conn:
        filled = set(conn.execute(text(probe)).scalars())
        for table in reversed(tables):
            if table.name in filled:
                conn.execute(table.delete())
        for table, rows in baseline:
            conn.execute(table.insert(), rows)


def _own_pg_database(url: str) -> Iterator[str]:
    """A database of this run's own on SIMKEEP_TEST_DATABASE_URL's server, named after the URL's database plus the
    process id and a random suffix (simkeep_test_4242_9f3a1c), dropped at the end of the session, also when tests
    failed: two runs at once never share tables, so neither can truncate or count the other's rows."""
    server = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{server.database or 'simkeep_test'}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        own = server.set(database=name).render_as_string(hide_password=False)
        upgrade(own)
        yield own
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Database]:
    if PG_URL:
        _reset_pg(*request.getfixturevalue("_pg_baseline"))
        database = Database(database_url)
    else:
        path = tmp_path / "simkeep.db"
        shutil.copy(database_url, path)
        database = Database(f"sqlite:///{path}")
    events.forget_endpoints()  # the process caches subscribed endpoints per database URL; tables were just emptied
    yield database
    database.dispose()


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    return Settings(database_url=db.url, data_dir=tmp_path, admin_token=ADMIN_TOKEN, secret_key=TEST_SECRET,
                    sandbox_enabled=True, sandbox_webhook_secret=SANDBOX_SECRET, payment_routes=SANDBOX_ROUTES,
                    voucher_pepper=VOUCHER_PEPPER, voucher_seal_key=VOUCHER_SEAL_KEY, esim_seal_key=ESIM_SEAL_KEY)


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    app = create_app(settings, db)
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as test_client:
        yield test_client


@pytest.fixture
def cli(db, tmp_path, monkeypatch) -> Iterator:
    """`simkeep ...` against the test database: cli("line", "show", "+336...") returns the output, asserting
    the exit code (0 unless `code=` says otherwise)."""
    monkeypatch.setenv("SIMKEEP_DATABASE_URL", db.url)
    monkeypatch.setenv("SIMKEEP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIMKEEP_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIMKEEP_VOUCHER_PEPPER", VOUCHER_PEPPER)
    monkeypatch.setenv("SIMKEEP_VOUCHER_SEAL_KEY", VOUCHER_SEAL_KEY)
    monkeypatch.setenv("SIMKEEP_ESIM_SEAL_KEY", ESIM_SEAL_KEY)
    monkeypatch.setenv("COLUMNS", "200")  # Rich tables stay on one line per row
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli_app, list(args))
        assert result.exit_code == code, result.output
        return result.output

    yield run
    get_settings.cache_clear()


@pytest.fixture
def live_server(settings: Settings, db: Database) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 for tests that race many connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(settings, db), host="127.0.0.1", port=port, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    yield base
    server.should_exit = True
    thread.join(timeout=10)
