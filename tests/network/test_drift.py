from datetime import timedelta

from simkeep.network import drift, service
from simkeep.network.adapters import Held
from simkeep.network.models import ABSENT, CS, CS_PS, DONE, NONE, PENDING
from simkeep.network.tasks import send_due
from tests.conftest import T0
from tests.network.conftest import commands, network_line, sim_line

LATER = T0 + timedelta(hours=1)
IMSI, MSISDN = "208010000000000", "+33612340000"  # the first line provisioned()


def provisioned(db, net, adapters, count=1):
    lines = [sim_line(db, now=T0, msisdn=f"+3361234{i:04d}", imsi=f"20801000000{i:04d}") for i in range(count)]
    while send_due(db, net, now=T0, adapters=adapters):
        pass
    return lines


def test_a_network_that_matches_is_in_sync_and_each_line_is_stamped(db, net, hlr, adapters):
    lines = provisioned(db, net, adapters, count=7)
    pages = []
    report = drift.check(db, net, repair=True, batch=3, now=LATER, adapters=adapters, progress=pages.append)
    assert (report.lines, report.in_sync, report.drifted, report.repaired, report.pending) == (7, 7, 0, 0, 0)
    assert pages == [3, 3, 1]
    for line in lines:
        row = network_line(db, line.id)
        assert (row.checked_at, row.drift) == (LATER, None)
    assert len(commands(db)) == 7  # nothing written


def test_a_flag_changed_by_hand_is_reported_without_repair_and_nothing_is_queued(db, net, hlr, adapters):
    (line,) = provisioned(db, net, adapters)
    hlr.held[IMSI] = Held(IMSI, MSISDN, CS)  # someone turned data off on the HLR
    report = drift.check(db, net, repair=False, now=LATER, adapters=adapters)
    assert (report.lines, report.in_sync, report.drifted, report.repaired) == (1, 0, 1, 0)
    (difference,) = report.differences
    assert (difference.line_id, difference.imsi_masked, difference.expected, difference.found, difference.repaired) \
        == (line.id, "20801********00", f"cs+ps {MSISDN}", "mode cs (want cs+ps)", False)
    row = network_line(db, line.id)
    assert (row.checked_at, row.drift) == (LATER, "mode cs (want cs+ps)")
    assert [c.status for c in commands(db)] == [DONE]
    assert hlr.held[IMSI].mode == CS


def test_repair_queues_the_desired_state_which_the_worker_sends(db, net, hlr, adapters):
    (line,) = provisioned(db, net, adapters)
    hlr.held[IMSI] = Held(IMSI, "+33700000000", NONE)
    report = drift.check(db, net, repair=True, now=LATER, adapters=adapters)
    assert (report.drifted, report.repaired) == (1, 1)
    assert report.differences[0].found == f"mode none (want cs+ps); msisdn +33700000000 (want {MSISDN})"
    assert [(c.seq, c.mode, c.msisdn, c.reason, c.status) for c in commands(db)] == [
        (1, CS_PS, MSISDN, "bind", DONE), (2, CS_PS, MSISDN, "drift", PENDING)]
    assert send_due(db, net, now=LATER, adapters=adapters) == 1
    assert hlr.held[IMSI] == Held(IMSI, MSISDN, CS_PS)
    again = drift.check(db, net, repair=True, now=LATER + timedelta(hours=1), adapters=adapters)
    assert (again.in_sync, again.drifted) == (1, 0)
    assert network_line(db, line.id).drift is None


def test_a_subscriber_missing_from_the_network_or_left_behind_is_drift(db, net, hlr, adapters):
    first, second = provisioned(db, net, adapters, count=2)
    del hlr.held[IMSI]  # lost in an HLR restore
    with db.transaction() as session:  # the second line was deactivated, but its subscriber came back
        service.follow(session, [(second.id, "deactivated")], now=T0)
    send_due(db, net, now=T0, adapters=adapters)
    hlr.held["208010000000001"] = Held("208010000000001", second.msisdn, CS_PS)
    report = drift.check(db, net, repair=False, now=LATER, adapters=adapters)
    assert [(d.line_id, d.expected, d.found) for d in report.differences] == sorted([
        (first.id, f"cs+ps {first.msisdn}", "mode absent (want cs+ps)"),
        (second.id, ABSENT, "mode cs+ps (want absent)")], key=lambda d: d[0])


def test_a_line_with_a_command_still_to_send_is_not_drift(db, net, hlr, adapters):
    (line,) = provisioned(db, net, adapters)
    with db.transaction() as session:
        service.follow(session, [(line.id, "suspended")], now=T0)
    report = drift.check(db, net, repair=True, now=LATER, adapters=adapters)
    assert (report.lines, report.pending, report.drifted, report.in_sync) == (1, 1, 0, 0)
    assert network_line(db, line.id).checked_at is None
    assert [c.status for c in commands(db)] == [DONE, PENDING]


def test_an_element_that_is_down_is_asked_once_and_its_lines_are_left_for_the_next_check(db, net, hlr, adapters):
    lines = provisioned(db, net, adapters, count=3)
    hlr.down = True
    report = drift.check(db, net, repair=True, now=LATER, adapters=adapters)
    assert (report.lines, report.unreachable, report.in_sync, report.drifted) == (3, 3, 0, 0)
    assert [network_line(db, line.id).checked_at for line in lines] == [None] * 3


def test_a_line_changed_while_the_network_was_read_is_not_recorded(db, net, hlr, adapters):
    (line,) = provisioned(db, net, adapters)

    class ChangingHlr(type(hlr)):
        def read(self, imsi):
            with db.transaction() as session:  # a suspension commits between the page read and the record
                service.follow(session, [(line.id, "suspended")], now=T0)
            return super().read(imsi)

    changing = ChangingHlr()
    changing.held = dict(hlr.held)
    report = drift.check(db, net, repair=True, now=LATER, adapters=type(adapters)(lambda url, s: changing))
    assert (report.changed, report.drifted, report.in_sync) == (1, 0, 0)
    assert network_line(db, line.id).checked_at is None
    assert [c.reason for c in commands(db)] == ["bind", "suspended"]


def test_the_worker_schedule_checks_a_page_per_call_then_rests(db, net, hlr, adapters, monkeypatch):
    provisioned(db, net, adapters, count=2)
    monkeypatch.setattr("simkeep.network.tasks.PROCESS_ADAPTERS", adapters)
    hlr.held["208010000000001"] = Held("208010000000001", "+33612340001", NONE)
    schedule = drift.Schedule(db, net.model_copy(update={"network_drift_interval_seconds": 3600.0}), batch=1)
    assert [schedule() for _ in range(4)] == [1, 1, 1, 0]
    assert [c.reason for c in commands(db)][-1] == "drift"


def test_an_element_that_reads_many_at_once_is_asked_once_per_page(db, net, hlr, adapters):
    provisioned(db, net, adapters, count=5)
    asked = []

    class BatchHlr(type(hlr)):
        def read_many(self, imsis):
            asked.append(list(imsis))
            return {imsi: self.read(imsi) for imsi in imsis}

    batch = BatchHlr()
    batch.held = dict(hlr.held)
    batch.held[IMSI] = Held(IMSI, MSISDN, NONE)
    report = drift.check(db, net, repair=False, batch=2, now=LATER, adapters=type(adapters)(lambda url, s: batch))
    assert [len(imsis) for imsis in asked] == [2, 2, 1]
    assert (report.lines, report.in_sync, report.drifted) == (5, 4, 1)
