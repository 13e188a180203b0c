import threading
import time
from datetime import timedelta

from sqlalchemy import func, select

from simkeep.network import service
from simkeep.network.adapters import Held
from simkeep.network.models import PENDING, ProvisioningCommand
from simkeep.network.tasks import Adapters, send_due
from tests.conftest import T0
from tests.network.conftest import commands, network_line, sim_line
from tests.network.fakes import FakeHlr

CYCLE = ("grace", "suspended", "active")  # cs, none, cs+ps: each change a different mode


class SlowHlr(FakeHlr):
    """Takes a moment per command and notes any two sends for one IMSI in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight: set[str] = set()
        self.overlaps: list[str] = []
        self.lock = threading.Lock()

    def apply(self, held: Held) -> None:
        with self.lock:
            if held.imsi in self.in_flight:
                self.overlaps.append(held.imsi)
            self.in_flight.add(held.imsi)
        try:
            time.sleep(0.002)
            with self.lock:
                super().apply(held)
        finally:
            with self.lock:
                self.in_flight.discard(held.imsi)


def is_subsequence(sent: list[str], written: list[str]) -> bool:
    remaining = iter(written)
    return all(mode in remaining for mode in sent)


def test_two_workers_and_state_changes_at_once_never_send_a_lines_commands_out_of_order(db, net):
    hlr = SlowHlr()
    lines = [sim_line(db, now=T0, msisdn=f"+3361234{i:04d}", imsi=f"20801000000{i:04d}") for i in range(8)]
    now = T0 + timedelta(seconds=1)
    writing = threading.Event()
    writing.set()
    errors: list[BaseException] = []

    def worker() -> None:
        adapters = Adapters(lambda url, settings: hlr)
        try:
            while writing.is_set() or pending(db):
                if not send_due(db, net, now=now, adapters=adapters, limit=3):
                    time.sleep(0.001)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    try:
        for turn in range(60):
            line = lines[turn % len(lines)]
            with db.transaction() as session:
                service.follow(session, [(line.id, CYCLE[(turn // len(lines)) % len(CYCLE)])], now=T0)
    finally:
        writing.clear()
        for thread in workers:
            thread.join(timeout=60)
    assert errors == []
    assert hlr.overlaps == []
    for line in lines:
        written = [c.mode for c in commands(db, line.id)]
        imsi = network_line(db, line.id).imsi
        sent = [held.mode for held in hlr.applied if held.imsi == imsi]
        assert is_subsequence(sent, written), (sent, written)
        assert sent[-1] == written[-1]
        row = network_line(db, line.id)
        assert (row.confirmed, row.confirmed_seq) == (row.desired, row.desired_seq)


def pending(db) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).where(ProvisioningCommand.status == PENDING)) or 0
