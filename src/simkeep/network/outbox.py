"""The provisioning outbox's rules: which command of a line goes next, its lease, and what an outcome records.

Per line, commands go to the network in seq order and one at a time. The next to send is the last of the leading
run of pending commands for one IMSI: each says the whole state, so the earlier ones of that run are superseded
unsent (a suspension followed by a renewal sends only the renewal). A command for another IMSI (the removal of a
swapped card) ends the run: it is sent in its turn. A leased command (a worker is sending it) holds its line back
until its outcome is recorded or its lease runs out (the worker died: the command is sent again; idempotent).
Nothing here commits: network/tasks.py runs each step in its own transaction, and never one across a network call.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy.orm import Session

from simkeep.network import repository
from simkeep.network.models import ProvisioningCommand

NO_ADAPTER = "no provisioning adapter configured"


@dataclass(frozen=True, slots=True)
class Claimed:
    """A command leased to this worker until `lease_end` (its fencing token: outcomes are recorded only while the
    lease is still this worker's)."""

    id: uuid.UUID
    line_id: uuid.UUID
    seq: int
    operator_id: str
    imsi: str
    msisdn: str | None
    mode: str
    reason: str
    attempts: int
    lease_end: datetime
    request_id: str | None = None  # the web request that wrote it: the worker logs under the same id


def claim_due(session: Session, *, now: datetime, limit: int, lease_seconds: float,
              routed: Callable[[str], bool], unrouted_retry_seconds: float) -> list[Claimed]:
    """Lease the next command of up to `limit` lines that have one due; supersede what it replaces. An operator
    without an adapter (`routed` false) keeps its command pending with the reason, due again later."""
    lines = repository.lock_lines(session, repository.lines_with_due_commands(session, now=now, limit=limit))
    if not lines:
        return []
    superseded: list[uuid.UUID] = []
    chosen: list[ProvisioningCommand] = []
    unrouted: list[uuid.UUID] = []
    for _line, commands in groupby(repository.pending_of(session, lines), key=lambda c: c.line_id):
        run = _leading_run(list(commands))
        if any(c.leased_until is not None and c.leased_until > now for c in run):
            continue  # in flight elsewhere
        superseded += [c.id for c in run[:-1]]
        last = run[-1]
        if last.next_attempt_at > now:
            continue
        if routed(last.operator_id):
            chosen.append(last)
        else:
            unrouted.append(last.id)
    lease_end = now + timedelta(seconds=lease_seconds)
    repository.supersede(session, superseded, now=now)
    repository.defer(session, unrouted, until=now + timedelta(seconds=unrouted_retry_seconds), error=NO_ADAPTER)
    repository.lease(session, [c.id for c in chosen], until=lease_end)
    return [Claimed(id=c.id, line_id=c.line_id, seq=c.seq, operator_id=c.operator_id, imsi=c.imsi, msisdn=c.msisdn,
                    mode=c.mode, reason=c.reason, attempts=c.attempts, lease_end=lease_end, request_id=c.request_id)
            for c in chosen]


def _leading_run(commands: list[ProvisioningCommand]) -> list[ProvisioningCommand]:
    """The line's first pending commands that are for the same IMSI as its first (seq order)."""
    run = [commands[0]]
    for command in commands[1:]:
        if command.imsi != run[0].imsi:
            break
        run.append(command)
    return run


def record_done(session: Session, command: Claimed, *, now: datetime) -> bool:
    """The network holds what `command` asked. False (nothing recorded) if the lease was lost meanwhile."""
    if not repository.mark_done(session, command.id, lease_end=command.lease_end, now=now):
        return False
    repository.confirm(session, command.line_id, imsi=command.imsi, seq=command.seq, mode=command.mode, now=now)
    return True


def record_failure(session: Session, command: Claimed, *, error: str, retry_at: datetime) -> bool:
    return repository.mark_failed(session, command.id, lease_end=command.lease_end, retry_at=retry_at, error=error)


def release(session: Session, commands: list[Claimed]) -> int:
    """Hand back leased commands that were not tried: due again at once."""
    released = 0
    for lease_end, group in groupby(sorted(commands, key=lambda c: c.lease_end), key=lambda c: c.lease_end):
        released += repository.release(session, [c.id for c in group], lease_end=lease_end)
    return released


def retry_at(now: datetime, attempts: int, *, base: float, cap: float,
             jitter: Callable[[float, float], float] = random.uniform) -> datetime:
    """After the `attempts`-th failure: base * 2^(attempts-1) seconds, at most `cap`, jittered down to half (lines
    that failed together when the element went down do not all come back at the same instant)."""
    delay = min(cap, base * 2 ** min(max(attempts - 1, 0), 30))
    return now + timedelta(seconds=jitter(delay / 2, delay))
