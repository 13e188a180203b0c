"""The drift check over every line: network.drift.check (with repair, as the worker runs it) in lines checked per
second, against a raw baseline measured in the same run over the same rows and the same network: the bare keyset
SELECT over network_lines plus one adapter read per line, with no comparison and no writes.

The network is the reference provisioning gateway (tests/network/gateway_server.py) in a process of its own (the
other core), reached through simkeep's Gateway adapter: signed HTTP/JSON over one keep-alive connection. It holds
every line's desired state except about 3 % changed "by hand" (another mode, the subscriber gone or back, another
number), which the check must find and repair, exactly. The lines are the sweep benchmark's (built with SQL), put
in a mix of states: of every 20, 14 active, 2 in grace, 2 suspended, 2 deactivated (removed from the network); each
has its network row and one confirmed command, as binding a SIM and sending its command leave them."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.progress import Progress, TaskID
from sqlalchemy import func, insert, select, text

from bench.common import OUT, ROOT, Sizes, drop_database, note, pg_url, progress, recreate_database, report
from bench.sweep_build import build_pg, build_sqlite
from simkeep.catalog.models import Operator
from simkeep.config import Settings
from simkeep.db import Database
from simkeep.network import drift, service
from simkeep.network.adapters import Held
from simkeep.network.models import ABSENT, CS, CS_PS, DONE, NONE, NetworkLine, ProvisioningCommand
from simkeep.network.tasks import Adapters

DATABASE = "simkeep_bench_network_drift"
SECRET = "bench-gateway-secret-0123456789abcdef0123456789"
BATCH = 500  # the worker's page
NOW = datetime(2027, 1, 4, 19, 0, tzinfo=UTC)
# Of every 20 lines (by bench number n): states as a network operator's base of number-keeping cards might be.
STATES = ["active"] * 14 + ["grace"] * 2 + ["suspended"] * 2 + ["deactivated"] * 2


def bench_network_drift_sqlite(sizes: Sizes) -> None:
    folder = OUT / "network_drift"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        build_sqlite(str(folder / "drift.db"), _lines(sizes))
        _run(f"sqlite:///{folder / 'drift.db'}", folder, "network_drift_sqlite")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_network_drift_pg(sizes: Sizes) -> None:
    folder = OUT / "network_drift_pg"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    recreate_database(DATABASE)
    try:
        build_pg(DATABASE, _lines(sizes))
        _run(pg_url(DATABASE), folder, "network_drift_pg")
    finally:
        drop_database(DATABASE)
        shutil.rmtree(folder, ignore_errors=True)


def _lines(sizes: Sizes) -> int:
    return 10_000 if sizes.label == "quick" else 100_000


def _run(url: str, folder: Path, name: str) -> None:
    db = Database(url)
    try:
        wanted = _provision_lines(db)
        network, planted = _network(wanted)
        with gateway(folder, network) as base:
            settings = Settings(database_url=url, network_provisioning={"*": base}, network_gateway_secret=SECRET)
            with progress() as bar:
                raw_rate, reads = _baseline(db, settings, bar.add_task("raw: pages and reads", total=len(wanted)),
                                            bar)
                task = bar.add_task("drift check, repairing", total=len(wanted))
                started = time.perf_counter()
                adapters = Adapters()
                try:
                    found = drift.check(db, settings, repair=True, batch=BATCH, now=NOW, adapters=adapters,
                                        progress=lambda lines: bar.advance(task, lines))
                finally:
                    adapters.close()
                rate = found.lines / (time.perf_counter() - started)
        _verify(db, found, len(wanted), planted)
    finally:
        db.dispose()
    note(f"{name}: {found.lines} lines checked, {found.drifted} differences found and repaired "
         f"({planted} planted), {reads} raw reads")
    report(f"{name}_lines_per_s", round(rate), "lines/s")
    report(f"{name}_raw_reads_per_s", round(raw_rate), "lines/s")
    report(f"{name}_ratio", round(rate / raw_rate, 2), "x")


def _provision_lines(db: Database) -> dict[uuid.UUID, Held]:
    """Put the built (all active) lines in STATES' mix and give each its SIM's network row and confirmed first
    command. Returns what the network should hold per line."""
    n_of = "CAST(substr(msisdn, 5) AS INTEGER) % 20"  # msisdn "+336" || 10000000 + n, and 10000000 % 20 == 0
    cases = " ".join(f"WHEN {k} THEN '{state}'" for k, state in enumerate(STATES))
    rows, wanted = [], {}
    with db.transaction() as session:
        session.execute(text(f"UPDATE lines SET state = CASE {n_of} {cases} END"))
        grace = dict(session.execute(select(Operator.id, Operator.grace_network_access)).all())
        for line_id, msisdn, operator_id, state in session.execute(text(
                "SELECT id, msisdn, operator_id, state FROM lines ORDER BY id")):
            line_id = line_id if isinstance(line_id, uuid.UUID) else uuid.UUID(line_id)
            mode = service.desired_mode(state, grace[operator_id])
            imsi = f"20801{int(msisdn[4:]) - 10_000_000:010d}"
            wanted[line_id] = Held(imsi, None if mode == ABSENT else msisdn, mode)
            rows.append((line_id, operator_id, msisdn, imsi, state, mode))
        for start in range(0, len(rows), 10_000):
            chunk = rows[start:start + 10_000]
            session.execute(insert(NetworkLine), [{
                "line_id": line_id, "operator_id": operator_id, "msisdn": msisdn, "imsi": imsi, "line_state": state,
                "desired": mode, "desired_seq": 1, "desired_at": NOW, "confirmed": mode, "confirmed_seq": 1,
                "confirmed_at": NOW, "checked_at": None, "drift": None}
                for line_id, operator_id, msisdn, imsi, state, mode in chunk])
            session.execute(insert(ProvisioningCommand), [{
                "id": uuid.uuid4(), "line_id": line_id, "seq": 1, "operator_id": operator_id, "imsi": imsi,
                "msisdn": None if mode == ABSENT else msisdn, "mode": mode, "reason": "bind", "status": DONE,
                "attempts": 1, "next_attempt_at": NOW, "leased_until": None, "last_error": None, "created_at": NOW,
                "done_at": NOW} for line_id, operator_id, msisdn, imsi, state, mode in chunk])
    return wanted


def _network(wanted: dict[uuid.UUID, Held]) -> tuple[dict[str, Held], int]:
    """The reference network: every line's desired state, except one line in 100 with another mode, one whose
    subscriber was removed (or, deactivated, is back), one with another number. Returns it and the differences."""
    network, planted, draw = {}, 0, random.Random(15)
    for want in wanted.values():
        held, k = want, draw.randrange(100)  # not from the line's number: its state is, and the two would correlate
        if k == 0:
            held = Held(want.imsi, want.msisdn or "+33700000000", {CS_PS: NONE, NONE: CS_PS}.get(want.mode, CS_PS))
        elif k == 1:
            held = Held(want.imsi, None, ABSENT) if want.mode != ABSENT else Held(want.imsi, "+33700000001", CS)
        elif k == 2 and want.mode != ABSENT:
            held = Held(want.imsi, "+33799999999", want.mode)
        planted += drift.difference(want, held) is not None
        if held.mode != ABSENT:
            network[held.imsi] = held
    return network, planted


@contextmanager
def gateway(folder: Path, network: dict[str, Held]) -> Iterator[str]:
    """The reference gateway in its own process, holding `network`; yields its base URL."""
    subscribers = folder / "subscribers.jsonl"
    with open(subscribers, "w", encoding="utf-8") as file:
        for held in network.values():
            file.write(json.dumps({"imsi": held.imsi, "msisdn": held.msisdn, "mode": held.mode}) + "\n")
    proc = subprocess.Popen([sys.executable, "-m", "tests.network.gateway_server", str(subscribers)], cwd=ROOT,
                            env={**os.environ, "GATEWAY_SECRET": SECRET}, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        if not base:
            raise RuntimeError(f"the reference gateway exited with {proc.wait()}")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _baseline(db: Database, settings: Settings, task: TaskID, bar: Progress) -> tuple[float, int]:
    """The same pages (keyset on line id) and one read per line through the same adapter; nothing compared, nothing
    written. Returns reads per second and how many."""
    adapters = Adapters()
    adapter = adapters.get(settings.network_provisioning["*"], settings)
    reads, after = 0, None
    started = time.perf_counter()
    try:
        while True:
            with db.transaction(write=False) as session:
                query = select(NetworkLine.line_id, NetworkLine.imsi).order_by(NetworkLine.line_id).limit(BATCH)
                page = session.execute(query if after is None else query.where(NetworkLine.line_id > after)).all()
            for _, imsi in page:
                adapter.read(imsi)
            reads += len(page)
            bar.advance(task, len(page))
            if len(page) < BATCH:
                break
            after = page[-1].line_id
    finally:
        adapters.close()
    return reads / (time.perf_counter() - started), reads


def _verify(db: Database, found: drift.DriftReport, lines: int, planted: int) -> None:
    """The check walked every line and found exactly the planted differences, each with its repair command."""
    with db.transaction(write=False) as session:
        repairs = session.scalar(select(func.count()).select_from(ProvisioningCommand)
                                 .where(ProvisioningCommand.reason == "drift"))
    seen = (found.lines, found.drifted, found.repaired, found.in_sync, repairs,
            found.pending + found.unreachable + found.changed + found.unconfigured + found.errors)
    if seen != (lines, planted, planted, lines - planted, planted, 0):
        raise AssertionError(f"drift check found (lines, drifted, repaired, in sync, repair commands, not checked) "
                             f"= {seen}; expected {(lines, planted, planted, lines - planted, planted, 0)}")
