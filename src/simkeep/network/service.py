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
    their new desired state and a command; the others cost one indexed read per batch. Returns commands written."""
    last = dict(changes)
    if not last:
        return 0
    rows = session.execute(
        select(NetworkLine.line_id, NetworkLine.imsi, NetworkLine.msisdn, NetworkLine.line_state,
               Operator.grace_network_access)
        .join(Operator, Operator.id == NetworkLine.operator_id)
        .where(NetworkLine.line_id.in_(list(last)))).all()
    commands = []
    for line_id, imsi, msisdn, before, grace_access in rows:
        state = last[line_id]
        if state == before:
            continue
        mode = desired_mode(state, grace_access)
        commands.append((Command(line_id, imsi, None if mode == ABSENT else msisdn, mode, state), state))
    for command, state in commands:
        write(session, command, line_state=state, now=now)
    repository.retire_with_lines(session, [c.line_id for c, state in commands if state == "deactivated"], now=now)
    return len(commands)


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
    a retired card's IMSI removed, which says nothing about the line). Returns its seq. The caller holds the line
    (its row lock or the transaction that changed it), so seqs never race."""
    seq = (session.scalar(select(func.max(ProvisioningCommand.seq))
                          .where(ProvisioningCommand.line_id == command.line_id)) or 0) + 1
    session.execute(insert(ProvisioningCommand.__table__).values(
        id=new_id(), line_id=command.line_id, seq=seq, operator_id=select(NetworkLine.operator_id)
        .where(NetworkLine.line_id == command.line_id).scalar_subquery(), imsi=command.imsi, msisdn=command.msisdn,
        mode=command.mode, reason=command.reason, status=PENDING, attempts=0, next_attempt_at=now, last_error=None,
        created_at=now, done_at=None))
    if not track:
        return seq
    values: dict = {"desired": command.mode, "desired_seq": seq, "desired_at": now, "imsi": command.imsi}
    if line_state is not None:
        values["line_state"] = line_state
    session.execute(update(NetworkLine).where(NetworkLine.line_id == command.line_id).values(**values))
    return seq
