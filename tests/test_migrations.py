"""The migrations and the models agree, and every migration can be undone: on an empty database (SQLite, and
PostgreSQL when SIMKEEP_TEST_DATABASE_URL is set), upgrade to head, compare the schema with the models as
`alembic revision --autogenerate` would, downgrade to base, upgrade again and compare again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from simkeep.migrate import downgrade, upgrade
from simkeep.models import Base
from tests.conftest import PG_URL, _own_pg_database

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="PostgreSQL runs with SIMKEEP_TEST_DATABASE_URL"))]


@contextmanager
def empty_database(backend: str, tmp_path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield from _own_pg_database_empty()


def _own_pg_database_empty() -> Iterator[str]:
    """A database of this test's own, left empty (conftest's helper upgrades it to head: undo that first)."""
    own = _own_pg_database(PG_URL)
    url = next(own)
    try:
        downgrade(url, "base")
        yield url
    finally:
        own.close()  # drops it


def differences(url: str) -> list:
    """What autogenerate would put in a new migration, with the options the project's env.py uses."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


# SQLite's reflection skips expression indexes (ix_lines_email_lower: lower(email)) with a warning; PostgreSQL compares
# them, so the index is still checked there.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_build_the_models_schema_and_downgrade_to_nothing(backend, tmp_path):
    models = {table.name for table in Base.metadata.sorted_tables}
    with empty_database(backend, tmp_path) as url:
        assert tables(url) - {"alembic_version"} == set()
        upgrade(url)
        assert tables(url) == models | {"alembic_version"}
        assert differences(url) == []

        downgrade(url, "base")
        assert tables(url) == {"alembic_version"}  # every table created by a migration is dropped by it

        upgrade(url)  # and the whole chain runs again on what the downgrades left
        assert tables(url) == models | {"alembic_version"}
        assert differences(url) == []
