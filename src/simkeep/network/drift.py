"""The drift check: does the network hold what simkeep wants for every line? Someone may have changed a flag by hand,
restored the HLR from an old backup, or a command may have been lost on the element's side.

Lines are walked in pages (keyset on line id). Each page is read in one short transaction, the network is read with
no transaction open, and what was found is recorded in another; a line whose state changed meanwhile, or which has a
command still to send, is not drift (the outbox is about to set it) and is left for the next check. With `repair`,
each difference gets a command (reason "drift") that sets the desired state again, through the same outbox.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.db import Database
from simkeep.network import repository, service, tasks
from simkeep.network.adapters import Held, Provisioner, Rejected, Unavailable, url_for
from simkeep.network.models import ABSENT, NetworkLine
from simkeep.network.tasks import Adapters

log = structlog.get_logger()
MAX_LISTED = 1000  # differences kept in the report (all are counted, and stored on their lines)


@dataclass(frozen=True, slots=True)
class Difference:
    line_id: uuid.UUID
    operator_id: str
    imsi_masked: str
    expected: str  # "cs+ps 33612345678", "absent"
    found: str
    repaired: bool


@dataclass
class DriftReport:
    lines: int = 0  # walked
    in_sync: int = 0
    drifted: int = 0
    repaired: int = 0
    pending: int = 0  # a command still to send: not checked
    unreachable: int = 0  # the element was down: checked next time
    changed: int = 0  # the line's state changed while the network was read: checked next time
    unconfigured: int = 0  # no adapter for the operator
    errors: int = 0  # the element refused the read
    differences: list[Difference] = field(default_factory=list)


def expected(line: NetworkLine) -> Held:
    """What the network should hold for the line's current card."""
    return Held(line.imsi, None if line.desired == ABSENT else line.msisdn, line.desired)


def difference(want: Held, held: Held) -> str | None:
    """How `held` differs from `want`, in words for staff (None if it does not)."""
    parts = []
    if held.mode != want.mode:
        parts.append(f"mode {held.mode} (want {want.mode})")
    if held.mode != ABSENT and want.mode != ABSENT and held.msisdn != want.msisdn:
        parts.append(f"msisdn {held.msisdn or 'none'} (want {want.msisdn or 'none'})")
    return "; ".join(parts) or None


def check(db: Database, settings: Settings, *, repair: bool, batch: int = 500, now: datetime,
          operator_id: str | None = None, adapters: Adapters | None = None,
          progress: Callable[[int], None] = lambda lines: None) -> DriftReport:
    """Compare the network with every line's desired state (of one operator, if given); with `repair`, queue a
    command for each difference. `progress` is told how many lines each page walked."""
    walk = Walk(repair=repair, batch=batch, operator_id=operator_id)
    while not walk.step(db, settings, now=now, adapters=adapters, progress=progress):
        pass
    return walk.report


@dataclass
class Walk:
    """One pass over the lines, a page per step: the worker takes a step per round, so a check of a million lines
    never holds back the provisioning job that runs in the same loop."""

    repair: bool
    batch: int = 500
    operator_id: str | None = None
    report: DriftReport = field(default_factory=DriftReport)
    after: uuid.UUID | None = None
    down: set = field(default_factory=set)  # elements found down in this pass: not asked again

    def step(self, db: Database, settings: Settings, *, now: datetime, adapters: Adapters | None = None,
             progress: Callable[[int], None] = lambda lines: None) -> bool:
        """Check the next page; True when the pass is complete."""
        adapters = adapters or tasks.PROCESS_ADAPTERS
        with db.transaction(write=False) as session:
            page = repository.lines_page(session, after=self.after, limit=self.batch, operator_id=self.operator_id)
            pending = repository.with_pending(session, [line.line_id for line in page]) if page else set()
        if not page:
            return True
        self.after = page[-1].line_id
        self.report.pending += len(pending)
        by_url: dict[str, list[NetworkLine]] = {}
        for line in page:
            url = url_for(settings, line.operator_id)
            if url is None:
                self.report.unconfigured += 1
            elif line.line_id not in pending:
                by_url.setdefault(url, []).append(line)
        found = {}
        for url, lines in by_url.items():
            for line, held in zip(lines, _read(settings, adapters, url, lines, self.report, self.down), strict=True):
                if held is not None:
                    found[line.line_id] = (line.desired_seq, difference(expected(line), held))
        _record(db, page, found, self.report, repair=self.repair, now=now)
        self.report.lines += len(page)
        progress(len(page))
        return len(page) < self.batch


class Schedule:
    """The worker's drift job: a pass every `network_drift_interval_seconds` (the first when the worker starts), one
    page per call; with `network_drift_repair`, differences are repaired. Returns the pages it checked (0 or 1)."""

    def __init__(self, db: Database, settings: Settings, *, batch: int = 500) -> None:
        self.db, self.settings, self.batch = db, settings, batch
        self.walk: Walk | None = None
        self.next_at = time.monotonic()

    def __call__(self) -> int:
        if self.walk is None:
            if time.monotonic() < self.next_at:
                return 0
            self.walk = Walk(repair=self.settings.network_drift_repair, batch=self.batch)
        if self.walk.step(self.db, self.settings, now=clock.now()):
            report, self.walk = self.walk.report, None
            self.next_at = time.monotonic() + self.settings.network_drift_interval_seconds
            log.info("network.drift_checked", lines=report.lines, in_sync=report.in_sync, drifted=report.drifted,
                     repaired=report.repaired, pending=report.pending, unreachable=report.unreachable,
                     errors=report.errors)
        return 1


def _read(settings: Settings, adapters: Adapters, url: str, lines: list[NetworkLine], report: DriftReport,
          down: set) -> list[Held | None]:
    """What one element holds for each of `lines` (None where it could not tell). An adapter with `read_many`
    (osmo-hlr pipelines its CTRL reads) is asked once for the page."""
    if url in down:
        report.unreachable += len(lines)
        return [None] * len(lines)
    adapter = adapters.get(url, settings)
    try:
        read_many = getattr(adapter, "read_many", None)
        if read_many is not None:
            held = read_many([line.imsi for line in lines])
            return [held.get(line.imsi) for line in lines]
        return [_read_one(adapter, line, report) for line in lines]
    except (Unavailable, OSError) as exc:
        down.add(url)  # not asked again in this pass: the rest of its lines count as unreachable
        adapters.drop(url)
        log.warning("network.drift_unreachable", operator=lines[0].operator_id, error=type(exc).__name__)
        report.unreachable += len(lines)
        return [None] * len(lines)


def _read_one(adapter: Provisioner, line: NetworkLine, report: DriftReport) -> Held | None:
    try:
        return adapter.read(line.imsi)
    except Rejected:
        report.errors += 1
        return None


def _record(db: Database, page: list[NetworkLine], found: dict, report: DriftReport, *, repair: bool,
            now: datetime) -> None:
    by_id = {line.line_id: line for line in page}
    with db.transaction() as session:
        recorded = repository.record_checks(session, found, now=now)
        report.changed += len(found) - len(recorded)
        for line_id in sorted(recorded):
            line, drift = by_id[line_id], found[line_id][1]
            if drift is None:
                report.in_sync += 1
                continue
            report.drifted += 1
            if repair:
                want = expected(line)
                service.write(session, service.Command(line_id, want.imsi, want.msisdn, want.mode, "drift"), now=now)
                report.repaired += 1
            if len(report.differences) < MAX_LISTED:
                report.differences.append(Difference(line_id, line.operator_id, service.mask_imsi(line.imsi),
                                                     _words(expected(line)), drift, repair))


def _words(held: Held) -> str:
    return f"{held.mode} {held.msisdn}" if held.msisdn else held.mode
