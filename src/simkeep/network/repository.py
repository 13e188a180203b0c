"""Queries on the inventory tables (sims, network_numbers): the only writer of their rows besides the imports' bulk
inserts in inventory.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, or_, select, update
from sqlalchemy.orm import Session

from simkeep.db import rowcount
from simkeep.network.models import ASSIGNED, RETIRED, SIM_STATES, NetworkLine, NetworkNumber, Sim

LOOKUP_BATCH = 1000  # values per IN (...) list: well under SQLite's 32,766 bound parameters and PostgreSQL's 65,535


def existing(session: Session, column, values: Sequence[str]) -> set[str]:
    """Those of `values` already in `column` (sims.iccid, sims.imsi, network_numbers.msisdn), in batches."""
    found: set[str] = set()
    for start in range(0, len(values), LOOKUP_BATCH):
        found.update(session.scalars(select(column).where(column.in_(values[start:start + LOOKUP_BATCH]))))
    return found


def bulk_inserter(session: Session, table: Table, columns: list[str], constants: dict[str, Any]
                  ) -> Callable[[list[tuple]], None]:
    """A function that inserts rows (values of `columns`, in order) with `constants` in the other columns, each
    value converted by its column type's bind processor (the constants once). PostgreSQL: COPY, in the session's
    transaction; SQLite: one executemany of plain tuples. An import of a million cards spends its time in the
    database, not in per-row parameter handling or round trips."""
    conn = session.connection()
    dialect = conn.dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    tail = tuple(_bound(table.c[name].type, dialect, value) for name, value in constants.items())
    names = ", ".join([*columns, *constants])

    def values(rows: list[tuple]) -> Iterator[tuple]:
        for row in rows:
            yield (*(p(v) if p is not None else v for p, v in zip(processors, row, strict=True)), *tail)

    if dialect.name == "postgresql":
        def copy_rows(rows: list[tuple]) -> None:
            with conn.connection.driver_connection.cursor() as cursor, cursor.copy(  # type: ignore[union-attr]
                    f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in values(rows):
                    copy.write_row(row)

        return copy_rows
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join(['?'] * (len(columns) + len(constants)))})"

    def insert_rows(rows: list[tuple]) -> None:
        conn.exec_driver_sql(sql, list(values(rows)))

    return insert_rows


def _bound(column_type, dialect, value: Any) -> Any:
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process is not None and value is not None else value


def sim_by_iccid(session: Session, iccid: str, *, lock: bool = False) -> Sim | None:
    query = select(Sim).where(Sim.iccid == iccid)
    return session.scalar(query.with_for_update() if lock else query)


def assigned_sim(session: Session, line_id: uuid.UUID, *, lock: bool = False) -> Sim | None:
    """The card a line holds now (at most one: uq_sims_assigned_line)."""
    query = select(Sim).where(Sim.line_id == line_id, Sim.state == ASSIGNED)
    return session.scalar(query.with_for_update() if lock else query)


def sims_of_line(session: Session, line_id: uuid.UUID) -> list[Sim]:
    """Every card the line has had, the current one first, then the newest change first."""
    return list(session.scalars(select(Sim).where(Sim.line_id == line_id)
                                .order_by((Sim.state == ASSIGNED).desc(), Sim.state_changed_at.desc())))


def set_state(session: Session, sim: Sim, *, state: str, line_id: uuid.UUID | None, now: datetime) -> None:
    session.execute(update(Sim).where(Sim.id == sim.id)
                    .values(state=state, line_id=line_id, state_changed_at=now)
                    .execution_options(synchronize_session=False))
    session.refresh(sim)


def retire_with_lines(session: Session, line_ids: Iterable[uuid.UUID], *, now: datetime) -> int:
    """Deactivated lines give their cards up for good (network.service.follow): the cards are retired, keeping the
    line they served. The HLR removal is the line's own ABSENT command. Returns the cards retired."""
    ids = list(line_ids)
    if not ids:
        return 0
    result = session.execute(update(Sim).where(Sim.line_id.in_(ids), Sim.state == ASSIGNED)
                             .values(state=RETIRED, state_changed_at=now)
                             .execution_options(synchronize_session=False))
    return rowcount(result)


def forget_line(session: Session, line_id: uuid.UUID) -> None:
    """The line has no card any more (reported lost, none at hand): nothing to provision, so no desired state that a
    later state change or the drift check would push to the lost card. The next card's bind makes the row again."""
    session.execute(delete(NetworkLine).where(NetworkLine.line_id == line_id))


def sim_counts(session: Session, operator_id: str | None = None) -> dict[str, int]:
    """Cards by state (every state present, 0 when none)."""
    query = select(Sim.state, func.count()).group_by(Sim.state)
    if operator_id:
        query = query.where(Sim.operator_id == operator_id)
    counts: dict[str, int] = {state: count for state, count in session.execute(query)}
    return {state: counts.get(state, 0) for state in SIM_STATES}


def search_sims(session: Session, *, text: str = "", state: str | None = None, operator_id: str | None = None,
                line_ids: Sequence[uuid.UUID] = (), limit: int = 100) -> list[Sim]:
    """Cards whose ICCID or IMSI starts with `text` or that serve one of `line_ids` (either, when both are given),
    newest change first."""
    query = select(Sim).order_by(Sim.state_changed_at.desc(), Sim.iccid).limit(limit)
    matches = []
    if text:
        matches += [Sim.iccid.startswith(text, autoescape=True), Sim.imsi.startswith(text, autoescape=True)]
    if line_ids:
        matches.append(Sim.line_id.in_(list(line_ids)))
    if matches:
        query = query.where(or_(*matches))
    if state:
        query = query.where(Sim.state == state)
    if operator_id:
        query = query.where(Sim.operator_id == operator_id)
    return list(session.scalars(query))


def numbers(session: Session, *, text: str = "", operator_id: str | None = None, limit: int = 100
            ) -> list[NetworkNumber]:
    query = select(NetworkNumber).order_by(NetworkNumber.msisdn).limit(limit)
    if text:
        query = query.where(NetworkNumber.msisdn.contains(text, autoescape=True))
    if operator_id:
        query = query.where(NetworkNumber.operator_id == operator_id)
    return list(session.scalars(query))
