"""Queries of the network domain: the inventory tables (sims, network_numbers; the only writer of their rows besides
the imports' bulk inserts in inventory.py), the provisioning outbox's claims and outcomes, and the drift check's pages."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, exists, func, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from simkeep.db import rowcount
from simkeep.network.models import (
    ASSIGNED,
    DONE,
    PENDING,
    RETIRED,
    SIM_STATES,
    SUPERSEDED,
    NetworkLine,
    NetworkNumber,
    ProvisioningCommand,
    Sim,
)

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


# The provisioning outbox and the drift check.

_C = ProvisioningCommand.__table__
_L = NetworkLine.__table__


def _free(table, now: datetime):
    """Not being sent by a worker right now (never leased, or its lease ran out: that worker died)."""
    return or_(table.c.leased_until.is_(None), table.c.leased_until <= now)


def lines_with_due_commands(session: Session, *, now: datetime, limit: int) -> list[uuid.UUID]:
    """Lines whose next command to send may be due: a due, free pending command with nothing ahead of it that must
    go first (an earlier command for another IMSI, or one in flight). Earlier commands for the same IMSI do not hold
    it back: they are superseded by it. Oldest first, so a line waiting longest is served first."""
    ahead = aliased(_C)
    blocked = exists().where(ahead.c.line_id == _C.c.line_id, ahead.c.status == PENDING, ahead.c.seq < _C.c.seq,
                             or_(ahead.c.imsi != _C.c.imsi, ahead.c.leased_until > now))
    due = (select(_C.c.line_id, func.min(_C.c.next_attempt_at).label("due_at"))
           .where(_C.c.status == PENDING, _C.c.next_attempt_at <= now, _free(_C, now), ~blocked)
           .group_by(_C.c.line_id).order_by("due_at").limit(limit))
    return [row.line_id for row in session.execute(due)]


_CLAIM_LOCKS = 0x5E71  # the advisory-lock class of provisioning claims (the second key is the line's)


def lock_lines(session: Session, line_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Those of the lines this claim may decide for. PostgreSQL: a transaction-level advisory lock per line, tried
    without waiting, so two workers' claims never decide for one line at once (the other skips it this round); it
    also covers a line whose network row is gone (a lost card's removal still to send). SQLite has one writer."""
    if session.get_bind().dialect.name != "postgresql" or not line_ids:
        return list(line_ids)
    keys = {_lock_key(line_id): line_id for line_id in line_ids}
    taken = session.execute(text("SELECT k FROM unnest(CAST(:keys AS integer[])) AS k "
                                 "WHERE pg_try_advisory_xact_lock(:class, k)"),
                            {"keys": sorted(keys), "class": _CLAIM_LOCKS}).scalars()
    return [keys[key] for key in taken]


def _lock_key(line_id: uuid.UUID) -> int:
    """32 bits of the line's id (random bits, UUIDv7's tail): a rare collision only makes a line wait a round."""
    return int.from_bytes(line_id.bytes[-4:], "big", signed=True)


def pending_of(session: Session, line_ids: Sequence[uuid.UUID]) -> list[ProvisioningCommand]:
    """The pending commands of these lines, in line and seq order."""
    return list(session.scalars(select(ProvisioningCommand)
                                .where(ProvisioningCommand.line_id.in_(line_ids),
                                       ProvisioningCommand.status == PENDING)
                                .order_by(ProvisioningCommand.line_id, ProvisioningCommand.seq)))


def supersede(session: Session, ids: Sequence[uuid.UUID], *, now: datetime) -> None:
    if ids:
        session.execute(update(_C).where(_C.c.id.in_(ids), _C.c.status == PENDING)
                        .values(status=SUPERSEDED, done_at=now, leased_until=None))


def lease(session: Session, ids: Sequence[uuid.UUID], *, until: datetime) -> None:
    if ids:
        session.execute(update(_C).where(_C.c.id.in_(ids)).values(leased_until=until))


def defer(session: Session, ids: Sequence[uuid.UUID], *, until: datetime, error: str) -> None:
    """Commands that cannot be sent yet (no adapter for their operator): due again at `until`, with the reason."""
    if ids:
        session.execute(update(_C).where(_C.c.id.in_(ids)).values(next_attempt_at=until, last_error=error))


def mark_done(session: Session, command_id: uuid.UUID, *, lease_end: datetime, now: datetime) -> bool:
    """False if this worker's lease was lost meanwhile (it ran out and another worker took the command over)."""
    return rowcount(session.execute(
        update(_C).where(_C.c.id == command_id, _C.c.status == PENDING, _C.c.leased_until == lease_end)
        .values(status=DONE, done_at=now, leased_until=None, last_error=None))) == 1


def confirm(session: Session, line_id: uuid.UUID, *, imsi: str, seq: int, mode: str, now: datetime) -> None:
    """The network holds `mode` for the line since command `seq`: its confirmed state, unless a later command was
    confirmed already, or the command was about another card (the removal of a swapped SIM's IMSI)."""
    session.execute(update(_L).where(_L.c.line_id == line_id, _L.c.imsi == imsi, _L.c.confirmed_seq < seq)
                    .values(confirmed=mode, confirmed_seq=seq, confirmed_at=now))


def mark_failed(session: Session, command_id: uuid.UUID, *, lease_end: datetime, retry_at: datetime,
                error: str) -> bool:
    return rowcount(session.execute(
        update(_C).where(_C.c.id == command_id, _C.c.status == PENDING, _C.c.leased_until == lease_end)
        .values(attempts=_C.c.attempts + 1, next_attempt_at=retry_at, leased_until=None, last_error=error))) == 1


def release(session: Session, ids: Sequence[uuid.UUID], *, lease_end: datetime) -> int:
    """Hand back leased commands that were not tried (the worker is stopping, or half its lease is spent)."""
    if not ids:
        return 0
    return rowcount(session.execute(update(_C).where(_C.c.id.in_(ids), _C.c.status == PENDING,
                                                     _C.c.leased_until == lease_end).values(leased_until=None)))


def lines_page(session: Session, *, after: uuid.UUID | None, limit: int,
               operator_id: str | None = None) -> list[NetworkLine]:
    """A page of network lines in line id order (keyset: `after` is the last id of the previous page)."""
    query = select(NetworkLine).order_by(NetworkLine.line_id).limit(limit)
    if after is not None:
        query = query.where(NetworkLine.line_id > after)
    if operator_id is not None:
        query = query.where(NetworkLine.operator_id == operator_id)
    return list(session.scalars(query))


def count_lines(session: Session, *, operator_id: str | None = None) -> int:
    query = select(func.count()).select_from(_L)
    if operator_id is not None:
        query = query.where(_L.c.operator_id == operator_id)
    return session.scalar(query) or 0


def pending_total(session: Session) -> int:
    return session.scalar(select(func.count()).where(_C.c.status == PENDING)) or 0


def with_pending(session: Session, line_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of the lines that have a command still to send."""
    return set(session.scalars(select(_C.c.line_id).distinct()
                               .where(_C.c.line_id.in_(line_ids), _C.c.status == PENDING)))


def record_checks(session: Session, found: dict[uuid.UUID, tuple[int, str | None]], *, now: datetime) -> set:
    """Store what the drift check found per line (the desired seq it compared with; the difference, or None), unless
    the line's desired state changed since it was read or a command is now pending: what the check saw is stale then.
    The rows are locked first (in line id order, as every writer of several lines does). Returns the lines recorded."""
    if not found:
        return set()
    current = dict(session.execute(select(_L.c.line_id, _L.c.desired_seq).where(_L.c.line_id.in_(list(found)))
                                   .order_by(_L.c.line_id).with_for_update()).all())
    pending = with_pending(session, list(found))
    fresh = {line_id: drift for line_id, (seq, drift) in found.items()
             if line_id not in pending and current.get(line_id) == seq}
    clean = [line_id for line_id, drift in fresh.items() if drift is None]
    if clean:
        session.execute(update(_L).where(_L.c.line_id.in_(clean)).values(checked_at=now, drift=None))
    for line_id, drift in fresh.items():
        if drift is not None:
            session.execute(update(_L).where(_L.c.line_id == line_id).values(checked_at=now, drift=drift))
    return set(fresh)


def network_line(session: Session, line_id: uuid.UUID) -> NetworkLine | None:
    return session.get(NetworkLine, line_id)


def pending_summary(session: Session, line_id: uuid.UUID) -> tuple[int, str | None]:
    """How many commands of the line wait, and the newest error among them (None if none failed)."""
    count = session.scalar(select(func.count()).where(_C.c.line_id == line_id, _C.c.status == PENDING)) or 0
    error = session.scalar(select(_C.c.last_error)
                           .where(_C.c.line_id == line_id, _C.c.status == PENDING, _C.c.last_error.is_not(None))
                           .order_by(_C.c.seq.desc()).limit(1))
    return count, error


def recent_commands(session: Session, line_id: uuid.UUID, *, limit: int) -> list[ProvisioningCommand]:
    return list(session.scalars(select(ProvisioningCommand).where(ProvisioningCommand.line_id == line_id)
                                .order_by(ProvisioningCommand.seq.desc()).limit(limit)))


def commands_upto(session: Session, line_id: uuid.UUID, *, upto: datetime | None, limit: int) -> list[ProvisioningCommand]:
    stmt = select(ProvisioningCommand).where(ProvisioningCommand.line_id == line_id)
    if upto is not None:
        stmt = stmt.where(ProvisioningCommand.created_at <= upto)
    return list(session.scalars(stmt.order_by(ProvisioningCommand.created_at.desc(), ProvisioningCommand.seq.desc())
                                .limit(limit)))


def pending_overall(session: Session) -> tuple[int, datetime | None]:
    """(pending commands, earliest next attempt), from ix_provisioning_commands_due (status, next_attempt_at)."""
    count, earliest = session.execute(select(func.count(), func.min(_C.c.next_attempt_at))
                                      .where(_C.c.status == PENDING)).one()
    return count, earliest
