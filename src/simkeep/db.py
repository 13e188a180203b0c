"""Engine, session and the column types every domain shares.

Write transactions on SQLite start with BEGIN IMMEDIATE: a deferred transaction that reads and then writes can
fail with SQLITE_BUSY on lock upgrade no matter how long it waits, which would turn a race into a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

from sqlalchemy import JSON, Connection, CursorResult, DateTime, Engine, MetaData, Result, Table, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    __table__: ClassVar[Table]  # every model maps one plain table (the default's FromClause allows joins and more)


class UtcDateTime(TypeDecorator[datetime]):
    """An instant: timestamptz on PostgreSQL, naive UTC text on SQLite, always aware UTC in Python."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime bound to an instant column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonType = JSON().with_variant(JSONB(), "postgresql")


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    if "poolclass" not in kwargs:
        # A fixed pool: an overflow connection is closed when returned, and a new one costs a backend fork and
        # its prepared statements. 16 covers the API lane and the pages' short transactions (providers are
        # called outside them), and three server processes plus a worker stay inside PostgreSQL's default 100.
        # pool_pre_ping: a connection is tested (a round trip) when taken from the pool, and a dead one (the
        # database restarted, the backend was terminated) is replaced instead of failing the request.
        kwargs = {"pool_size": 16, "max_overflow": 0, "pool_timeout": 60, "pool_pre_ping": True, **kwargs}
    return create_engine(url, **kwargs)


def _sqlite_engine(url: str, **kwargs) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


class Database:
    """One engine and two session factories: reads begin normally, writes take the write lock up front."""

    def __init__(self, url: str, **engine_kwargs) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.dialect = self.engine.dialect.name
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._read = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._write = sessionmaker(writer, expire_on_commit=False, autoflush=False)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        session = (self._write if write else self._read)()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def read(self, work: Callable[[Session], T]) -> T:
        with self.transaction(write=False) as session:
            return work(session)

    def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one write transaction. A unique-key race (two first requests with one Idempotency-Key)
        is retried once: the retry finds the winner's row and answers as a replay or a 409."""
        try:
            with self.transaction() as session:
                return work(session)
        except IntegrityError:
            with self.transaction() as session:
                return work(session)

    def dispose(self) -> None:
        self.engine.dispose()


def is_transient(exc: BaseException) -> bool:
    """The database or the network, not the code: a lost or refused connection, a full pool, a timeout. Worth
    trying again later; anything else is a bug or bad data."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | PoolTimeout | OSError | TimeoutError)


@lru_cache(maxsize=64)
def _insert_or_ignore(table: Table, dialect: str):
    if dialect == "postgresql":
        return pg_insert(table).on_conflict_do_nothing()
    return sqlite_insert(table).on_conflict_do_nothing()


def insert_or_ignore(session: Session, table: Table):
    """INSERT ... ON CONFLICT DO NOTHING in the session's SQL dialect, built once per table: a UNIQUE key is what
    makes writes idempotent (dedup keys, event ids, counters)."""
    return _insert_or_ignore(table, session.get_bind().dialect.name)


@contextmanager
def sqlite_cache(conn: Connection, *, mib: int) -> Iterator[None]:
    """On SQLite, a page cache of `mib` MB for this connection while a bulk write runs (inserts into an index with
    random keys, such as a million PIN hashes, thrash the default 2 MB); the connection's own size after. Elsewhere
    nothing."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql(f"PRAGMA cache_size = {-1024 * int(mib)}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched. Executing one returns a CursorResult; Session.execute is typed for
    every statement, so it says Result."""
    return cast(CursorResult[Any], result).rowcount
