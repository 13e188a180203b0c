"""Acceptance (issue 15): the network follows the line, end to end, against Debian's osmo-hlr (tests/network/hlr.py)
and simkeep's own sending (network/tasks.py) and worker process.

Each test reads the HLR directly (a bare CTRL client, not simkeep's adapter) after each step and asserts exactly what
it holds: every lifecycle state; an HLR outage during a suspension; a renewal racing the suspension sweep; a worker
killed with a command applied but not yet recorded; drift made by hand; a SIM swap; a bad vendor file; and a seeded
random walk of renewals, sweeps, outages and crashes that must end with the HLR matching every line's state.
"""

from __future__ import annotations

import os
import random
import re
import signal
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import select

from simkeep.catalog.models import Operator
from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.clock import add_days
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line.models import Line
from simkeep.network import drift, inventory, service, tasks
from simkeep.network.adapters import Held, open_provisioner
from simkeep.network.inventory import LineRef
from simkeep.network.models import (
    ABSENT,
    CS,
    CS_PS,
    DONE,
    NONE,
    PENDING,
    RETIRED,
    SUPERSEDED,
    NetworkLine,
    ProvisioningCommand,
    Sim,
)
from simkeep.network.tasks import Adapters
from tests.conftest import PG_URL, T0
from tests.factories.lines import make_line, top_up, view
from tests.network.hlr import OsmoHlrPeer
from tests.network.tap import Tap
from tests.processes import simkeep_env, start, wait_until

SYMA = "fr-syma"  # grace 90 days (receive-only: cs), suspended 30, quarantine 45; fr-syma-5 adds 30 days
OFFER = "fr-syma-5"
TZ = "Europe/Paris"
MSISDN = "+33612345678"
MODES = {(False, False): NONE, (True, False): CS, (False, True): "ps", (True, True): CS_PS}
_cards = count(1)


# -- the HLR, the cards and the lines --------------------------------------------------------------------------------

@pytest.fixture
def peer(osmo_hlr: OsmoHlrPeer) -> Iterator[OsmoHlrPeer]:
    """The session's osmo-hlr, running and empty; running again after the test (a test may stop it)."""
    if not osmo_hlr.running:
        osmo_hlr.start()
    osmo_hlr.reset()
    yield osmo_hlr
    if not osmo_hlr.running:
        osmo_hlr.start()


@pytest.fixture
def routed(settings: Settings, osmo_hlr: OsmoHlrPeer) -> Settings:
    """Settings that route every operator to the HLR, retrying after 1 s doubling up to 8 s."""
    return settings.model_copy(update={"network_provisioning": {"*": osmo_hlr.url}, "network_retry_seconds": 1.0,
                                       "network_retry_max_seconds": 8.0})


class Wire:
    """simkeep's real adapters (network/tasks.py `Adapters`, osmo-hlr over CTRL and VTY), with each apply that went
    through counted, and a crash that can be armed: the process dies after the HLR applied a command and before
    the worker recorded it."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, str, str | None]] = []
        self.crash_after_apply = False
        self.adapters = Adapters(self._open)

    def _open(self, url: str, settings: Settings):
        return Recorded(open_provisioner(url, settings), self)

    def crashed(self) -> None:
        """A new worker process opens new connections."""
        self.adapters.close()
        self.adapters = Adapters(self._open)


class Crash(BaseException):
    """The worker process dies (not an error a worker handles: nothing after it runs)."""


class Recorded:
    def __init__(self, adapter, wire: Wire) -> None:
        self.adapter, self.wire = adapter, wire

    def apply(self, want: Held) -> None:
        self.adapter.apply(want)
        self.wire.applied.append((want.imsi, want.mode, want.msisdn))
        if self.wire.crash_after_apply:
            self.wire.crash_after_apply = False
            raise Crash()

    def read(self, imsi: str) -> Held:
        return self.adapter.read(imsi)

    def close(self) -> None:
        self.adapter.close()


@pytest.fixture
def wire() -> Iterator[Wire]:
    wire = Wire()
    yield wire
    wire.adapters.close()


def held(hlr: OsmoHlrPeer, imsi: str) -> tuple[str, str | None]:
    """(mode, number) as the HLR holds them for `imsi`, read over CTRL; ("absent", None) if it does not know it."""
    subscriber = hlr.subscriber(imsi)
    if subscriber is None:
        return ABSENT, None
    return MODES[subscriber.cs, subscriber.ps], f"+{subscriber.msisdn}" if subscriber.msisdn else None


def card() -> tuple[str, str]:
    """A new (ICCID, IMSI) of SFR's network (Syma's host, MCC-MNC 20810); the ICCID ends with its Luhn digit."""
    n = next(_cards)
    body = f"893310{os.getpid() % 100000:05d}{n:08d}"
    iccid = next(body + d for d in "0123456789" if inventory.luhn_ok(body + d))
    return iccid, f"20810{os.getpid() % 100000:05d}{n:05d}"


def stock(db, cards: list[tuple[str, str]], *, now: datetime) -> None:
    text = "ICCID,IMSI,Ki\n" + "".join(f"{iccid},{imsi},00112233445566778899AABBCCDDEEFF\n" for iccid, imsi in cards)
    with db.transaction() as session:
        inventory.import_sims(session, text.splitlines(), operator=session.get(Operator, SYMA), source="vendor.csv",
                              actor="test", now=now)


def ref(db, msisdn: str) -> LineRef:
    line = view(db, msisdn).line
    return LineRef(line.id, line.msisdn, line.operator_id, line.state)


def line_with_sim(db, msisdn: str = MSISDN, *, now: datetime) -> tuple[Line, str]:
    """A Syma line with a card bound to it at `now`; returns the line and the card's IMSI."""
    line = make_line(db, msisdn=msisdn, operator_id=SYMA, now=now)
    iccid, imsi = card()
    stock(db, [(iccid, imsi)], now=now)
    with db.transaction() as session:
        inventory.assign(session, line=ref(db, msisdn), iccid=iccid, actor="test", reason="new line", now=now)
    return line, imsi


def send(db, settings: Settings, wire: Wire, *, now: datetime) -> None:
    """Send everything due at `now` (the worker's `provision` job, round after round until nothing is left)."""
    while tasks.send_due(db, settings, now=now, adapters=wire.adapters):
        pass


def network_line(db, line_id) -> NetworkLine:
    with db.transaction(write=False) as session:
        return session.get(NetworkLine, line_id)


def commands(db, line_id=None) -> list[ProvisioningCommand]:
    with db.transaction(write=False) as session:
        query = select(ProvisioningCommand).order_by(ProvisioningCommand.line_id, ProvisioningCommand.seq)
        if line_id is not None:
            query = query.where(ProvisioningCommand.line_id == line_id)
        return list(session.scalars(query))


def pending(db) -> list[ProvisioningCommand]:
    return [c for c in commands(db) if c.status == PENDING]


def expected(db, msisdn: str) -> tuple[str, str | None]:
    """What the HLR must hold for the line's state, by the operator's rule."""
    found = view(db, msisdn)
    mode = service.desired_mode(found.line.state, found.operator.grace_network_access)
    return mode, None if mode == ABSENT else msisdn


def suspension_at(line: Line) -> datetime:
    return add_days(line.validity_ends_at, 90, TZ)


# -- 1. every state -------------------------------------------------------------------------------------------------

def test_a_line_walks_every_state_and_the_hlr_holds_each_one_exactly(db, routed, peer, wire):
    line, imsi = line_with_sim(db, now=T0)

    def step(now: datetime, state: str, mode: str) -> None:
        send(db, routed, wire, now=now)
        assert view(db).line.state == state
        assert held(peer, imsi) == (mode, None if mode == ABSENT else MSISDN)
        row = network_line(db, line.id)
        assert (row.line_state, row.desired, row.confirmed, row.confirmed_seq) == (state, mode, mode, row.desired_seq)

    step(T0, "active", CS_PS)
    ends = view(db).line.validity_ends_at
    run_sweep(db, now=ends)
    step(ends, "grace", CS)  # receive-only: calls and SMS in, no data
    top_up(db, msisdn=MSISDN, offer_id=OFFER, now=ends + timedelta(days=3))
    step(ends + timedelta(days=3), "active", CS_PS)  # renewed from grace
    renewed = view(db).line
    run_sweep(db, now=renewed.validity_ends_at)
    step(renewed.validity_ends_at, "grace", CS)
    run_sweep(db, now=suspension_at(renewed))
    step(suspension_at(renewed), "suspended", NONE)  # both directions barred, the number kept
    top_up(db, msisdn=MSISDN, offer_id=OFFER, now=suspension_at(renewed) + timedelta(days=1))
    step(suspension_at(renewed) + timedelta(days=1), "active", CS_PS)  # renewed from suspended
    last = view(db).line
    for now, state, mode in ((last.validity_ends_at, "grace", CS), (suspension_at(last), "suspended", NONE),
                             (last.number_loss_at, "deactivated", ABSENT),
                             (add_days(last.number_loss_at, 1, TZ), "quarantine", ABSENT),
                             (last.available_at, "available", ABSENT)):
        run_sweep(db, now=now)
        step(now, state, mode)
    assert peer.imsis() == []  # nothing left behind in the HLR
    assert [(c.reason, c.mode, c.status, c.attempts) for c in commands(db, line.id)] == [  # attempts: failed ones
        ("bind", CS_PS, DONE, 0), ("grace", CS, DONE, 0), ("active", CS_PS, DONE, 0), ("grace", CS, DONE, 0),
        ("suspended", NONE, DONE, 0), ("active", CS_PS, DONE, 0), ("grace", CS, DONE, 0),
        ("suspended", NONE, DONE, 0), ("deactivated", ABSENT, DONE, 0)]  # quarantine, available: still absent
    assert len(wire.applied) == 9
    with db.transaction(write=False) as session:
        assert session.scalar(select(Sim.state).where(Sim.imsi == imsi)) == RETIRED  # the card went with the line


# -- 2. the HLR down during a suspension ----------------------------------------------------------------------------

def test_a_suspension_sent_while_the_hlr_is_down_is_retried_with_backoff_then_arrives_once(db, routed, peer, wire):
    line, imsi = line_with_sim(db, now=T0)
    send(db, routed, wire, now=T0)
    run_sweep(db, now=line.validity_ends_at)
    send(db, routed, wire, now=line.validity_ends_at)
    assert held(peer, imsi) == (CS, MSISDN)
    peer.stop()
    now = suspension_at(line)
    run_sweep(db, now=now)
    gaps = []
    for attempt in range(1, 5):
        send(db, routed, wire, now=now)
        (command,) = pending(db)
        assert (command.reason, command.mode, command.attempts) == ("suspended", NONE, attempt)
        assert command.last_error.startswith("unavailable: ")  # kept for staff to see
        send(db, routed, wire, now=command.next_attempt_at - timedelta(milliseconds=1))  # not due: not tried
        assert pending(db)[0].attempts == attempt
        gaps.append((command.next_attempt_at - now).total_seconds())
        now = command.next_attempt_at
    # Backoff: each wait in [half, all] of 1, 2, 4, 8 s (jittered so that lines that failed together spread out).
    assert all(step / 2 <= gap <= step for gap, step in zip(gaps, (1, 2, 4, 8), strict=True)), gaps
    assert wire.applied == [(imsi, CS_PS, MSISDN), (imsi, CS, MSISDN)]  # the bind and grace, before the outage
    peer.start()
    assert held(peer, imsi) == (CS, MSISDN)  # nothing reached the HLR while it was down
    send(db, routed, wire, now=now)
    assert wire.applied[2:] == [(imsi, NONE, MSISDN)]  # once
    assert held(peer, imsi) == (NONE, MSISDN)
    assert [(c.reason, c.status, c.attempts) for c in commands(db, line.id)] == [
        ("bind", DONE, 0), ("grace", DONE, 0), ("suspended", DONE, 4)]  # four failed tries
    row = network_line(db, line.id)
    assert (row.desired, row.confirmed, row.confirmed_seq) == (NONE, NONE, 3)
    send(db, routed, wire, now=now + timedelta(hours=1))
    assert len(wire.applied) == 3  # nothing sent again


def test_a_renewal_during_the_outage_after_a_suspension_ends_with_the_line_on(db, routed, peer, wire):
    line, imsi = line_with_sim(db, now=T0)
    send(db, routed, wire, now=T0)
    run_sweep(db, now=line.validity_ends_at)
    send(db, routed, wire, now=line.validity_ends_at)
    peer.stop()
    suspended = suspension_at(line)
    run_sweep(db, now=suspended)
    send(db, routed, wire, now=suspended)  # fails: the HLR is down
    renewal = suspended + timedelta(minutes=5)
    top_up(db, msisdn=MSISDN, offer_id=OFFER, now=renewal)
    send(db, routed, wire, now=renewal)  # the renewal overtakes the waiting suspension, and fails too
    peer.start()
    send(db, routed, wire, now=renewal + timedelta(minutes=5))
    assert held(peer, imsi) == (CS_PS, MSISDN)
    assert wire.applied[2:] == [(imsi, CS_PS, MSISDN)]  # the suspension, overtaken while waiting, never sent
    assert [(c.reason, c.status) for c in commands(db, line.id)] == [
        ("bind", DONE), ("grace", DONE), ("suspended", SUPERSEDED), ("active", DONE)]
    row = network_line(db, line.id)
    assert (row.desired, row.confirmed, row.confirmed_seq) == (CS_PS, CS_PS, 4)


# -- 3. a renewal racing the suspension ------------------------------------------------------------------------------

def test_renewals_racing_the_suspension_sweep_and_two_senders_end_with_every_line_on(db, routed, peer, wire):
    numbers = [f"+3361200{i:04d}" for i in range(6)]
    imsis = [line_with_sim(db, n, now=T0)[1] for n in numbers]
    first = view(db, numbers[0]).line
    run_sweep(db, now=first.validity_ends_at)
    send(db, routed, wire, now=first.validity_ends_at)
    at = suspension_at(first)
    if PG_URL:  # the sweep, six renewals and two senders (each with its own connections) at once
        go = threading.Barrier(9)
        errors: list[BaseException] = []
        senders = [Wire(), Wire()]

        def race(work) -> None:
            try:
                go.wait()
                work()
            except BaseException as error:  # reported below
                errors.append(error)

        def sender(own: Wire) -> None:
            for _ in range(20):
                tasks.send_due(db, routed, now=at + timedelta(minutes=1), adapters=own.adapters)

        works = [lambda: run_sweep(db, now=at)] + [
            lambda n=n: top_up(db, msisdn=n, offer_id=OFFER, now=at) for n in numbers] + [
            lambda own=own: sender(own) for own in senders]
        threads = [threading.Thread(target=race, args=(w,)) for w in works]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for own in senders:
            own.adapters.close()
        assert errors == []
    else:  # one writer at a time: renewals before the sweep, and after it with a suspension already sent
        for n in numbers[:3]:
            top_up(db, msisdn=n, offer_id=OFFER, now=at)
        run_sweep(db, now=at)
        tasks.send_due(db, routed, now=at, limit=1, adapters=wire.adapters)
        for n in numbers[3:]:
            top_up(db, msisdn=n, offer_id=OFFER, now=at)
    send(db, routed, wire, now=at + timedelta(minutes=1))
    for number, imsi in zip(numbers, imsis, strict=True):
        assert view(db, number).line.state == "active"
        assert held(peer, imsi) == (CS_PS, number)
        row = network_line(db, view(db, number).line.id)
        assert (row.desired, row.confirmed, row.confirmed_seq) == (CS_PS, CS_PS, row.desired_seq)
    assert pending(db) == []


# -- 4. the worker killed mid-send -----------------------------------------------------------------------------------

def order_on_the_wire(requests: list[str]) -> dict[str, list[str]]:
    """Per IMSI, what the HLR was told, in arrival order: created, removed (absent), or an access mode."""
    seen: dict[str, list[str]] = {}
    for request in requests:
        words = request.split()
        if request.startswith("SET ") and words[2] in ("subscriber.create", "subscriber.delete"):
            seen.setdefault(words[3], []).append("create" if words[2].endswith("create") else ABSENT)
        elif " update network-access-mode " in request:
            seen.setdefault(words[2], []).append(words[-1])
    return seen


def in_seq_order(told: list[str], sent: list[str]) -> bool:
    """`told` (what reached the HLR) follows `sent` (the modes of the line's commands for the IMSI, in seq order),
    skipping commands that needed no change or were superseded, and never going back."""
    position = 0
    for mode, then in zip(told, [*told[1:], None], strict=True):
        if mode == "create" or (mode, then) == (NONE, ABSENT):  # a removal bars first (the serving network learns)
            continue
        while position < len(sent) and sent[position] != mode:
            position += 1
        if position == len(sent):
            return False
    return True


@pytest.fixture
def taps(osmo_hlr: OsmoHlrPeer) -> Iterator[tuple[Tap, Tap, str]]:
    """A recording relay to the HLR's CTRL and one to its VTY (one arrival order), and the URL through them."""
    requests: list[str] = []
    ctrl = Tap((osmo_hlr.address, osmo_hlr.ctrl_port), "ctrl", requests)
    vty = Tap((osmo_hlr.address, osmo_hlr.vty_port), "vty", requests)
    try:
        yield ctrl, vty, f"osmo-hlr://127.0.0.1:{ctrl.port}?vty={vty.port}&timeout=1"
    finally:
        ctrl.close()
        vty.close()


def test_a_worker_killed_between_the_send_and_the_commit_loses_nothing_and_keeps_the_order(db, peer, taps, tmp_path):
    ctrl, vty, url = taps
    now = clock.now()
    # Lines bought at different times in the past (real time: the worker's clock): the worker's own sweep finds
    # them active, in grace, suspended, in quarantine and available again.
    ages = {"+33612300001": 10, "+33612300002": 40, "+33612300003": 45, "+33612300004": 130, "+33612300005": 200,
            "+33612300006": 165}
    imsis = {n: line_with_sim(db, n, now=now - timedelta(days=days))[1] for n, days in ages.items()}
    env = simkeep_env(db.url, tmp_path, SIMKEEP_WORKER_POLL_SECONDS="0.05", SIMKEEP_SWEEP_INTERVAL_SECONDS="3600",
                      SIMKEEP_NETWORK_PROVISIONING=f'{{"*": "{url}"}}', SIMKEEP_NETWORK_RETRY_SECONDS="0.2",
                      SIMKEEP_NETWORK_RETRY_MAX_SECONDS="1", SIMKEEP_NETWORK_LEASE_SECONDS="2")
    log = tmp_path / "worker.log"

    def kill_after(trigger) -> None:
        """Start a worker, hold the HLR's answer to the first request `trigger` picks (an access-mode change), and
        SIGKILL the worker: the HLR holds the new mode, the command is still pending in the database."""
        vty.hold_after(trigger)
        worker = start(["worker"], env, log)
        try:
            wait_until(vty.held.is_set, timeout=60, what="a write in flight")
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            vty.release()
        _, _, imsi, *_, mode = vty.caught.split()
        assert held(peer, imsi)[0] == mode
        assert [c.mode for c in pending(db) if c.imsi == imsi][-1:] == [mode]  # applied, not recorded

    # The worker's first round sends the new cards, then sweeps; killed as a state of its sweep reaches the HLR.
    kill_after(lambda request: request.endswith(("network-access-mode cs", "network-access-mode none")))
    renewable = [n for n in ages if view(db, n).line.state in ("grace", "suspended")]
    assert len(renewable) == 3
    for n in renewable:  # renewals while no worker runs
        top_up(db, msisdn=n, offer_id=OFFER, now=clock.now())
    kill_after(lambda request: request.endswith("network-access-mode cs+ps"))  # killed switching a line back on
    worker = start(["worker"], env, log)
    try:
        wait_until(lambda: not pending(db), timeout=60, what="every command sent")
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    told = order_on_the_wire(ctrl.requests)
    for number, imsi in imsis.items():
        assert held(peer, imsi) == expected(db, number), number
        line_id = view(db, number).line.id
        row = network_line(db, line_id)
        assert (row.confirmed, row.confirmed_seq) == (row.desired, row.desired_seq), number
        sent = commands(db, line_id)
        assert [c.status for c in sent if c.status not in (DONE, SUPERSEDED)] == []
        assert sent[-1].status == DONE
        assert in_seq_order(told.get(imsi, []), [c.mode for c in sent]), (number, told.get(imsi), sent)
    for number in renewable:
        assert held(peer, imsis[number]) == (CS_PS, number)
    with db.transaction(write=False) as session:
        cards = {imsi: state for imsi, state in session.execute(select(Sim.imsi, Sim.state))}
    gone = {imsis[n] for n in ages if view(db, n).line.state in ("deactivated", "quarantine", "available")}
    assert len(gone) == 2
    assert {imsi: cards[imsi] for imsi in gone} == dict.fromkeys(gone, RETIRED)  # swept past deactivated at once


# -- 5. drift --------------------------------------------------------------------------------------------------------

def test_flags_changed_by_hand_are_reported_then_repaired(db, routed, peer, wire):
    numbers = ["+33612400001", "+33612400002", "+33612400003", "+33612400004"]
    imsis = [line_with_sim(db, n, now=T0)[1] for n in numbers]
    send(db, routed, wire, now=T0)
    at = T0 + timedelta(hours=1)
    report = drift.check(db, routed, repair=False, now=at, adapters=wire.adapters)
    assert (report.lines, report.in_sync, report.drifted) == (4, 4, 0)
    peer.set_flag(imsis[0], "ps-enabled", False)  # engineers at the HLR
    peer.set_msisdn(imsis[1], "+33699999999")
    peer.delete(imsis[2])
    report = drift.check(db, routed, repair=False, now=at, adapters=wire.adapters)
    assert (report.lines, report.in_sync, report.drifted, report.repaired) == (4, 1, 3, 0)
    assert pending(db) == []  # only reported
    assert held(peer, imsis[0]) == (CS, numbers[0])
    assert [network_line(db, view(db, n).line.id).drift for n in numbers] == [
        "mode cs (want cs+ps)", "msisdn +33699999999 (want +33612400002)", "mode absent (want cs+ps)", None]
    report = drift.check(db, routed, repair=True, now=at, adapters=wire.adapters)
    assert (report.drifted, report.repaired) == (3, 3)
    assert [(c.reason, c.mode) for c in pending(db)] == [("drift", CS_PS)] * 3
    send(db, routed, wire, now=at)
    assert [held(peer, imsi) for imsi in imsis] == [(CS_PS, n) for n in numbers]
    report = drift.check(db, routed, repair=False, now=at + timedelta(hours=1), adapters=wire.adapters)
    assert (report.in_sync, report.drifted) == (4, 0)


# -- 6. SIM swap -----------------------------------------------------------------------------------------------------

def test_a_swap_removes_the_old_imsi_and_the_new_card_holds_the_number_in_the_line_state(db, routed, peer, wire):
    line, old = line_with_sim(db, now=T0)
    send(db, routed, wire, now=T0)
    run_sweep(db, now=line.validity_ends_at)  # in grace: the new card must come up receive-only, not fully on
    send(db, routed, wire, now=line.validity_ends_at)
    at = line.validity_ends_at + timedelta(days=2)
    iccid, new = card()
    stock(db, [(iccid, new)], now=at)
    with db.transaction() as session:
        inventory.swap(session, line=ref(db, MSISDN), new_iccid=iccid, actor="test", reason="card lost", lost=True,
                       now=at)
    send(db, routed, wire, now=at)
    assert held(peer, old) == (ABSENT, None)
    assert held(peer, new) == (CS, MSISDN)  # the number moved (the HLR holds a number on one IMSI only)
    assert [(c.reason, c.imsi, c.mode, c.status) for c in commands(db, line.id)][-2:] == [
        ("lost", old, ABSENT, DONE), ("swap", new, CS, DONE)]
    top_up(db, msisdn=MSISDN, offer_id=OFFER, now=at + timedelta(minutes=1))
    send(db, routed, wire, now=at + timedelta(minutes=1))
    assert held(peer, new) == (CS_PS, MSISDN)
    assert peer.imsis() == [new]
    report = drift.check(db, routed, repair=False, now=at + timedelta(hours=1), adapters=wire.adapters)
    assert (report.lines, report.in_sync) == (1, 1)


# -- 7. a bad vendor file --------------------------------------------------------------------------------------------

def test_a_vendor_file_with_bad_iccids_is_refused_with_their_line_numbers_through_the_cli(db, cli, tmp_path):
    good = [card() for _ in range(3)]
    bad_luhn = good[1][0][:-1] + str((int(good[1][0][-1]) + 1) % 10)
    rows = [f"{good[0][0]},{good[0][1]}", f"{bad_luhn},{good[1][1]}", f"{good[2][0]},{good[2][1]}",
            f"8933ABC,{card()[1]}", f"{good[2][0]},{card()[1]}"]
    path = tmp_path / "vendor.csv"
    path.write_text("ICCID,IMSI,KI\n" + "\n".join(f"{r},0123456789ABCDEF0123456789ABCDEF" for r in rows) + "\n")
    output = cli("network", "sims", "import", str(path), "--operator", SYMA, code=1)
    assert "0123456789ABCDEF" not in output  # the card's key is never echoed
    problems = {int(n): reason for n, reason in re.findall(r"(?m)^line (\d+): (.+)$", output)}
    assert sorted(problems) == [3, 5, 6], output
    assert "Luhn" in problems[3] and "digits" in problems[5] and "line 4" in problems[6], output
    with db.transaction(write=False) as session:
        assert session.scalars(select(Sim)).all() == []


# -- 8. any sequence -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [int(os.environ.get("SIMKEEP_NETWORK_SEED", "0")) or random.randrange(2**32)])
def test_any_sequence_of_renewals_sweeps_outages_and_crashes_ends_with_the_hlr_matching_every_line(
        db, routed, peer, wire, seed):
    print(f"SIMKEEP_NETWORK_SEED={seed}")
    rng = random.Random(seed)
    numbers = [f"+3361250{i:04d}" for i in range(4)]
    imsis = {n: line_with_sim(db, n, now=T0)[1] for n in numbers}
    spare = [card() for _ in range(4)]
    stock(db, spare, now=T0)
    now, renewed = T0, set()
    for _ in range(40):
        action = rng.choice(["renew", "renew", "sweep", "sweep", "send", "send", "outage", "crash", "swap"])
        if action == "swap":  # a lost or broken card replaced
            number = rng.choice(numbers)
            if spare and view(db, number).line.state in ("active", "grace", "suspended"):
                iccid, imsi = spare.pop()
                with db.transaction() as session:
                    inventory.swap(session, line=ref(db, number), new_iccid=iccid, actor="test", reason="swap",
                                   lost=rng.random() < 0.5, now=now)
                imsis[number] = imsi
        elif action == "renew":
            number = rng.choice(numbers)
            if view(db, number).line.state in ("active", "grace", "suspended"):
                top_up(db, msisdn=number, offer_id=OFFER, now=now)
                renewed.add(number)
        elif action == "sweep":
            now += timedelta(days=rng.choice([1, 10, 31, 60, 95]))
            run_sweep(db, now=now)
            renewed -= {n for n in numbers if view(db, n).line.state != "active"}
        elif action == "send":
            now += timedelta(seconds=rng.choice([0, 1, 5, 60]))
            send(db, routed, wire, now=now)
        elif action == "outage":
            if peer.running:
                peer.stop()
            else:
                peer.start()
        else:
            wire.crash_after_apply = True
            try:
                tasks.send_due(db, routed, now=now, adapters=wire.adapters)
            except Crash:
                wire.crashed()
            wire.crash_after_apply = False
    if not peer.running:
        peer.start()
    for _ in range(20):  # drained: later and later, past any backoff or lease
        now += timedelta(minutes=10)
        send(db, routed, wire, now=now)
        if not pending(db):
            break
    assert pending(db) == []
    for number, imsi in imsis.items():
        assert held(peer, imsi) == expected(db, number), (number, view(db, number).line.state)
        row = network_line(db, view(db, number).line.id)
        assert (row.confirmed, row.confirmed_seq) == (row.desired, row.desired_seq)
    for number in renewed:
        assert held(peer, imsis[number]) == (CS_PS, number)  # no renewed line stays barred
    assert sorted(peer.imsis()) == sorted(imsis[n] for n in numbers if expected(db, n)[0] != ABSENT)  # no old card
