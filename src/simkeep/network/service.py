"""The network follows the line: each state change writes what the HLR should now hold, in the same transaction.

A line with a SIM has a `network_lines` row (desired and confirmed state) and a `provisioning_commands` outbox. The
line domain calls `follow` from the one place line states change (`line.service.record_events`), so a renewal, a
sweep or a creation can never commit without its command. The worker sends the commands (network/tasks.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from simkeep.catalog.models import Operator
from simkeep.core.ids import new_id
from simkeep.core.logs import current_request_id
from simkeep.network import repository
from simkeep.network.models import ABSENT, CS_PS, NONE, PENDING, NetworkLine, ProvisioningCommand

# Line states by what the network holds for them; grace is the operator's rule (catalog `grace_network_access`).
_ON, _OFF = ("active",), ("suspended",)
_REMOVED = ("deactivated", "quarantine", "available")


def desired_mode(line_state: str, grace_access: str) -> str:
    """The network-access mode a line in `line_state` should have (network.models.MODES)."""
    if line_state in _ON:
        return CS_PS
    if line_state == "grace":
        return grace_access
    if line_state in _OFF:
        return NONE
    if line_state in _REMOVED:
        return ABSENT
    raise ValueError(f"unknown line state {line_state!r}")


@dataclass(frozen=True, slots=True)
class Command:
    """What one provisioning command asks the network to hold for one IMSI."""

    line_id: uuid.UUID
    imsi: str
    msisdn: str | None
    mode: str
    reason: str


def follow(session: Session, changes: Iterable[tuple[uuid.UUID, str]], *, now: datetime) -> int:
    """Lines that changed state (line id, new state; several for one line: the last counts). Lines with a SIM get
    their new desired state and a command, unless the desired mode stays the same (deactivated -> quarantine: still
    absent); the others cost one indexed read per batch. Lines are written in line id order, the order every writer
    of several lines locks their network rows in. Returns commands written."""
    last = dict(changes)
    if not last:
        return 0
    rows = session.execute(
        select(NetworkLine.line_id, NetworkLine.imsi, NetworkLine.msisdn, NetworkLine.line_state,
               NetworkLine.desired, Operator.grace_network_access)
        .join(Operator, Operator.id == NetworkLine.operator_id)
        .where(NetworkLine.line_id.in_(list(last))).order_by(NetworkLine.line_id)).all()
    written, ended = 0, []
    for line_id, imsi, msisdn, before, desired, grace_access in rows:
        state = last[line_id]
        if state == before:
            continue
        mode = desired_mode(state, grace_access)
        if mode == desired:
            session.execute(update(NetworkLine).where(NetworkLine.line_id == line_id).values(line_state=state))
        else:
            write(session, Command(line_id, imsi, None if mode == ABSENT else msisdn, mode, state), line_state=state,
                  now=now)
            written += 1
        if state in _REMOVED:  # a sweep that caught up may jump past deactivated: the card goes all the same
            ended.append(line_id)
    repository.retire_with_lines(session, ended, now=now)
    return written


def bind(session: Session, *, line_id: uuid.UUID, operator_id: str, msisdn: str, line_state: str, imsi: str,
         reason: str, now: datetime) -> int:
    """The line now has the SIM `imsi` (a first card, or a new one after a swap): the network should hold it in the
    line's state. Creates the line's row on its first SIM. The previous card's IMSI, if any, is the caller's to
    remove (`write(..., track=False)` with ABSENT, before this). Returns the command's seq."""
    grace_access = session.scalar(select(Operator.grace_network_access).where(Operator.id == operator_id))
    mode = desired_mode(line_state, grace_access or "cs")
    if session.get(NetworkLine, line_id) is None:
        session.execute(insert(NetworkLine.__table__).values(
            line_id=line_id, operator_id=operator_id, msisdn=msisdn, imsi=imsi, line_state=line_state, desired=mode,
            desired_seq=0, desired_at=now, confirmed=None, confirmed_seq=0, confirmed_at=None, checked_at=None,
            drift=None))
    return write(session, Command(line_id, imsi, None if mode == ABSENT else msisdn, mode, reason),
                 line_state=line_state, now=now)


def write(session: Session, command: Command, *, line_state: str | None = None, track: bool = True,
          now: datetime) -> int:
    """Queue `command` (the next seq for the line) and, with `track`, record it as the line's desired state (without:
    a retired card's IMSI removed, which says nothing about the line). Returns its seq. The line's network row is
    locked first: every writer of a line's commands (a state change, a SIM swap, a drift repair) takes it, so seqs
    never race, and the worker's claim skips a line while its change is being written."""
    operator_id = session.scalar(select(NetworkLine.operator_id).where(NetworkLine.line_id == command.line_id)
                                 .with_for_update())
    seq = (session.scalar(select(func.max(ProvisioningCommand.seq))
                          .where(ProvisioningCommand.line_id == command.line_id)) or 0) + 1
    session.execute(insert(ProvisioningCommand.__table__).values(
        id=new_id(), line_id=command.line_id, seq=seq, operator_id=operator_id, imsi=command.imsi,
        msisdn=command.msisdn, mode=command.mode, reason=command.reason, status=PENDING, attempts=0,
        next_attempt_at=now, leased_until=None, last_error=None, created_at=now, done_at=None,
        request_id=current_request_id()))
    if not track:
        return seq
    values: dict = {"desired": command.mode, "desired_seq": seq, "desired_at": now, "imsi": command.imsi}
    if line_state is not None:
        values["line_state"] = line_state
    session.execute(update(NetworkLine).where(NetworkLine.line_id == command.line_id).values(**values))
    return seq


def mask_imsi(imsi: str) -> str:
    """The network (MCC-MNC) and the last two digits: enough to tell cards apart on a page or in a log line."""
    return imsi[:5] + "*" * max(len(imsi) - 7, 0) + imsi[-2:]


@dataclass(frozen=True, slots=True)
class NetworkStatus:
    """What the network should hold for a line and what it was last confirmed to hold (the line's page and API)."""

    desired: str
    desired_at: datetime
    confirmed: str | None
    confirmed_at: datetime | None
    in_sync: bool  # the last command was confirmed: nothing left to send
    pending: int
    last_error: str | None
    imsi_masked: str
    checked_at: datetime | None
    drift: str | None


def status(session: Session, line_id: uuid.UUID) -> NetworkStatus | None:
    """None for a line without a SIM (nothing to provision)."""
    row = repository.network_line(session, line_id)
    if row is None:
        return None
    pending, last_error = repository.pending_summary(session, line_id)
    return NetworkStatus(desired=row.desired, desired_at=row.desired_at, confirmed=row.confirmed,
                         confirmed_at=row.confirmed_at, in_sync=pending == 0 and row.confirmed == row.desired,
                         pending=pending, last_error=last_error, imsi_masked=mask_imsi(row.imsi),
                         checked_at=row.checked_at, drift=row.drift)


@dataclass(frozen=True, slots=True)
class CommandView:
    seq: int
    imsi_masked: str
    mode: str
    reason: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    done_at: datetime | None


def recent_commands(session: Session, line_id: uuid.UUID, *, limit: int = 10) -> list[CommandView]:
    """The line's last provisioning commands, newest first (the admin line page)."""
    return [CommandView(seq=c.seq, imsi_masked=mask_imsi(c.imsi), mode=c.mode, reason=c.reason, status=c.status,
                        attempts=c.attempts, last_error=c.last_error, created_at=c.created_at, done_at=c.done_at)
            for c in repository.recent_commands(session, line_id, limit=limit)]


def count_lines(session: Session, *, operator_id: str | None = None) -> int:
    """Lines with a SIM (of one operator): what a drift check walks."""
    return repository.count_lines(session, operator_id=operator_id)


def pending_count(session: Session) -> int:
    """Provisioning commands still to send, every line."""
    return repository.pending_total(session)


def commands_for_line(session: Session, line_id: uuid.UUID, *, upto: datetime | None = None,
                      limit: int = 50) -> list[tuple[uuid.UUID, CommandView]]:
    """(id, command) of the line's provisioning commands written at or before `upto`, newest first (its timeline)."""
    return [(c.id, CommandView(seq=c.seq, imsi_masked=mask_imsi(c.imsi), mode=c.mode, reason=c.reason,
                               status=c.status, attempts=c.attempts, last_error=c.last_error, created_at=c.created_at,
                               done_at=c.done_at))
            for c in repository.commands_upto(session, line_id, upto=upto, limit=limit)]


def pending_commands(session: Session, *, now: datetime) -> tuple[int, float]:
    """Provisioning commands waiting for the network, and how long the most overdue one has been due (seconds)."""
    count, earliest = repository.pending_overall(session)
    return count, max(0.0, (now - earliest).total_seconds()) if earliest is not None else 0.0
