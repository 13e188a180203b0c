from datetime import timedelta

import pytest
from sqlalchemy import update

from simkeep.catalog.models import Operator
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line import rules
from simkeep.network import repository, service
from simkeep.network.adapters import Held
from simkeep.network.models import ABSENT, CS, CS_PS, DONE, NONE, PENDING, PS, SUPERSEDED
from simkeep.network.tasks import send_due
from simkeep.worker import make_jobs
from tests.conftest import T0
from tests.factories.lines import make_line, top_up, view
from tests.network.conftest import IMSI, MSISDN, SYMA, commands, network_line, sim_line
from tests.network.fakes import Crash


def stages(db):
    line = view(db).line
    with db.transaction(write=False) as session:
        operator = session.get(Operator, line.operator_id)
        return rules.stages(operator, line.validity_ends_at)


@pytest.mark.parametrize(("state", "grace", "mode"), [
    ("active", "cs", CS_PS), ("grace", "cs", CS), ("grace", "ps", PS), ("grace", "none", NONE),
    ("grace", "cs+ps", CS_PS), ("suspended", "cs", NONE), ("deactivated", "cs", ABSENT),
    ("quarantine", "cs", ABSENT), ("available", "cs", ABSENT)])
def test_desired_mode_per_line_state_and_the_operators_grace_rule(state, grace, mode):
    assert service.desired_mode(state, grace) == mode


def test_a_line_walked_through_every_state_ends_each_step_with_the_network_holding_its_mode(db, net, hlr, adapters):
    line = sim_line(db, now=T0)
    at = stages(db)
    steps = [(T0, "active", Held(IMSI, MSISDN, CS_PS)),
             (at.validity_ends_at + timedelta(hours=1), "grace", Held(IMSI, MSISDN, CS)),
             (at.suspended_at + timedelta(hours=1), "suspended", Held(IMSI, MSISDN, NONE)),
             (at.number_loss_at + timedelta(hours=1), "deactivated", None),
             (at.quarantine_at + timedelta(hours=1), "quarantine", None),
             (at.available_at + timedelta(hours=1), "available", None)]
    for now, state, held in steps:
        run_sweep(db, now=now)
        send_due(db, net, now=now, adapters=adapters)
        assert view(db).line.state == state
        assert hlr.held.get(IMSI) == held
        row = network_line(db, line.id)
        assert (row.line_state, row.desired, row.confirmed) == (state, held.mode if held else ABSENT,
                                                                 held.mode if held else ABSENT)
    # deactivated -> quarantine -> available wrote nothing more: the number was already cleared
    assert [(c.seq, c.mode, c.reason, c.status) for c in commands(db)] == [
        (1, CS_PS, "bind", DONE), (2, CS, "grace", DONE), (3, NONE, "suspended", DONE),
        (4, ABSENT, "deactivated", DONE)]
    assert [held.mode for held in hlr.applied] == [CS_PS, CS, NONE, ABSENT]


def test_a_line_without_a_sim_gets_no_command(db, net, hlr, adapters):
    make_line(db, operator_id=SYMA, now=T0)
    run_sweep(db, now=stages(db).suspended_at + timedelta(hours=1))
    assert commands(db) == []
    assert send_due(db, net, now=T0, adapters=adapters) == 0
    assert hlr.applied == []


def test_grace_follows_the_operators_rule_from_the_catalog(db, net, hlr, adapters):
    with db.transaction() as session:
        session.execute(update(Operator).where(Operator.id == SYMA)
                        .values(grace_network_access=PS))
    sim_line(db, now=T0)
    run_sweep(db, now=stages(db).validity_ends_at + timedelta(hours=1))
    send_due(db, net, now=stages(db).validity_ends_at + timedelta(hours=1), adapters=adapters)
    assert hlr.held[IMSI] == Held(IMSI, MSISDN, PS)


def test_a_renewal_right_after_a_suspension_ends_with_the_line_on_and_the_suspension_superseded(db, net, hlr,
                                                                                                adapters):
    line = sim_line(db, now=T0)
    send_due(db, net, now=T0, adapters=adapters)
    suspended = stages(db).suspended_at + timedelta(hours=1)
    run_sweep(db, now=suspended)
    top_up(db, offer_id="fr-syma-5", now=suspended + timedelta(seconds=1))  # before the worker ran
    assert send_due(db, net, now=suspended + timedelta(seconds=2), adapters=adapters) == 1
    assert [(c.seq, c.mode, c.reason, c.status) for c in commands(db)] == [
        (1, CS_PS, "bind", DONE), (2, NONE, "suspended", SUPERSEDED), (3, CS_PS, "active", DONE)]
    assert [held.mode for held in hlr.applied] == [CS_PS, CS_PS]
    row = network_line(db, line.id)
    assert (row.desired, row.confirmed, row.confirmed_seq) == (CS_PS, CS_PS, 3)


def test_while_the_element_is_down_commands_back_off_then_arrive_once_in_order(db, net, hlr, adapters):
    net = net.model_copy(update={"network_retry_seconds": 2.0, "network_retry_max_seconds": 10.0})
    line = sim_line(db, now=T0)
    hlr.down = True
    now = T0
    retries = []
    for attempt in range(1, 6):
        assert send_due(db, net, now=now, adapters=adapters) == 1
        (command,) = commands(db)
        assert (command.status, command.attempts, command.last_error) == (
            PENDING, attempt, "unavailable: connection refused")
        wait = (command.next_attempt_at - now).total_seconds()
        cap = min(10.0, 2.0 * 2 ** (attempt - 1))
        assert cap / 2 <= wait <= cap
        retries.append(wait)
        assert send_due(db, net, now=command.next_attempt_at - timedelta(microseconds=1), adapters=adapters) == 0
        now = command.next_attempt_at
    assert hlr.applied == []
    hlr.down = False
    assert send_due(db, net, now=now, adapters=adapters) == 1
    assert hlr.applied == [Held(IMSI, MSISDN, CS_PS)]
    (command,) = commands(db)
    assert (command.status, command.attempts, command.last_error) == (DONE, 5, None)
    assert network_line(db, line.id).confirmed == CS_PS
    assert send_due(db, net, now=now + timedelta(hours=1), adapters=adapters) == 0
    assert len(hlr.applied) == 1


def test_a_suspension_during_an_outage_then_a_renewal_reaches_the_network_without_waiting_its_backoff(db, net, hlr,
                                                                                                      adapters):
    sim_line(db, now=T0)
    send_due(db, net, now=T0, adapters=adapters)
    suspended = stages(db).suspended_at + timedelta(hours=1)
    run_sweep(db, now=suspended)
    hlr.down = True
    for minutes in range(0, 60, 5):  # an hour of outage: the suspension backs off to the cap
        send_due(db, net, now=suspended + timedelta(minutes=minutes), adapters=adapters)
    renewed = suspended + timedelta(hours=1)
    top_up(db, offer_id="fr-syma-5", now=renewed)
    hlr.down = False
    assert send_due(db, net, now=renewed, adapters=adapters) == 1
    assert hlr.applied == [Held(IMSI, MSISDN, CS_PS), Held(IMSI, MSISDN, CS_PS)]
    assert [c.status for c in commands(db)] == [DONE, SUPERSEDED, DONE]


def test_a_rejected_command_keeps_the_elements_reason_and_is_retried_later(db, net, hlr, adapters):
    line = sim_line(db, now=T0)
    hlr.reject = "ERROR 3 Command not found for IMSI 208011234567890"
    assert send_due(db, net, now=T0, adapters=adapters) == 1
    (command,) = commands(db)
    assert (command.status, command.attempts) == (PENDING, 1)
    assert command.last_error == "rejected: ERROR 3 Command not found for IMSI 20801********90"
    with db.transaction(write=False) as session:
        status = service.status(session, line.id)
    assert status is not None
    assert (status.desired, status.confirmed, status.pending, status.in_sync) == (CS_PS, None, 1, False)
    assert status.last_error == command.last_error
    hlr.reject = None
    send_due(db, net, now=command.next_attempt_at, adapters=adapters)
    with db.transaction(write=False) as session:
        status = service.status(session, line.id)
    assert status is not None
    assert (status.confirmed, status.pending, status.last_error, status.in_sync) == (CS_PS, 0, None, True)


def test_an_operator_without_an_adapter_keeps_its_commands_pending_with_the_reason(db, net, hlr, adapters):
    net = net.model_copy(update={"network_provisioning": {"fr-orange-mobicarte": "fake://hlr"}})
    sim_line(db, now=T0)
    assert send_due(db, net, now=T0, adapters=adapters) == 0
    (command,) = commands(db)
    assert (command.status, command.attempts, command.last_error) == (
        PENDING, 0, "no provisioning adapter configured")
    assert command.next_attempt_at == T0 + timedelta(seconds=net.network_retry_max_seconds)
    assert send_due(db, net, now=T0 + timedelta(seconds=1), adapters=adapters) == 0  # no busy loop
    assert hlr.applied == []


def test_a_worker_killed_after_the_network_applied_resends_after_its_lease_and_confirms(db, net, hlr, adapters):
    line = sim_line(db, now=T0)
    hlr.crash_after_apply = True
    with pytest.raises(Crash):
        send_due(db, net, now=T0, adapters=adapters)
    (command,) = commands(db)
    assert (command.status, command.leased_until) == (PENDING, T0 + timedelta(seconds=net.network_lease_seconds))
    assert network_line(db, line.id).confirmed is None
    assert send_due(db, net, now=T0 + timedelta(seconds=net.network_lease_seconds - 1), adapters=adapters) == 0
    lease_over = T0 + timedelta(seconds=net.network_lease_seconds)
    assert send_due(db, net, now=lease_over, adapters=adapters) == 1
    assert hlr.applied == [Held(IMSI, MSISDN, CS_PS)] * 2  # the same state twice: harmless
    (command,) = commands(db)
    assert (command.status, command.leased_until) == (DONE, None)
    row = network_line(db, line.id)
    assert (row.confirmed, row.confirmed_seq, row.confirmed_at) == (CS_PS, 1, lease_over)


def test_a_later_command_waits_while_the_lines_previous_one_is_in_flight(db, net, hlr, adapters):
    sim_line(db, now=T0)
    hlr.crash_after_apply = True
    with pytest.raises(Crash):
        send_due(db, net, now=T0, adapters=adapters)  # seq 1 leased, its outcome never recorded
    early = T0 + timedelta(seconds=1)
    with db.transaction() as session:  # a change written while seq 1 is still being sent
        service.follow(session, [(view(db).line.id, "suspended")], now=early)
    assert send_due(db, net, now=early, adapters=adapters) == 0
    assert hlr.applied == [Held(IMSI, MSISDN, CS_PS)]
    # the lease ran out: the in-flight command is superseded by the later one for the same IMSI
    assert send_due(db, net, now=T0 + timedelta(seconds=net.network_lease_seconds), adapters=adapters) == 1
    assert hlr.applied == [Held(IMSI, MSISDN, CS_PS), Held(IMSI, MSISDN, NONE)]
    assert [c.status for c in commands(db)] == [SUPERSEDED, DONE]


def test_a_swap_removes_the_old_imsi_first_then_provisions_the_new_one(db, net, hlr, adapters):
    line = sim_line(db, now=T0)
    send_due(db, net, now=T0, adapters=adapters)
    later = T0 + timedelta(minutes=5)
    new_imsi = "208019876543210"
    with db.transaction() as session:
        service.write(session, service.Command(line.id, IMSI, None, ABSENT, "swap"), track=False, now=later)
        service.bind(session, line_id=line.id, operator_id=line.operator_id, msisdn=line.msisdn,
                     line_state="active", imsi=new_imsi, reason="swap", now=later)
    assert send_due(db, net, now=later, adapters=adapters) == 1  # one command per line per round, in order
    assert send_due(db, net, now=later, adapters=adapters) == 1
    assert hlr.applied[1:] == [Held(IMSI, None, ABSENT), Held(new_imsi, MSISDN, CS_PS)]
    assert hlr.held == {new_imsi: Held(new_imsi, MSISDN, CS_PS)}
    row = network_line(db, line.id)
    assert (row.imsi, row.confirmed, row.confirmed_seq) == (new_imsi, CS_PS, 3)


def test_a_stopping_worker_hands_back_the_commands_it_did_not_try(db, net, hlr, adapters):
    sim_line(db, now=T0)
    sim_line(db, now=T0, msisdn="+33612345679", imsi="208011234567891")
    tried = []
    assert send_due(db, net, now=T0, adapters=adapters, stopping=lambda: bool(tried.append(1) or len(tried) > 1)) == 2
    assert len(hlr.applied) == 1
    assert sorted((c.status, c.leased_until) for c in commands(db)) == [(DONE, None), (PENDING, None)]
    assert send_due(db, net, now=T0, adapters=adapters) == 1
    assert len(hlr.applied) == 2


def test_follow_writes_no_command_when_the_desired_mode_stays_the_same(db, net):
    line = sim_line(db, now=T0)
    with db.transaction() as session:
        assert service.follow(session, [(line.id, "deactivated")], now=T0) == 1
        assert service.follow(session, [(line.id, "quarantine")], now=T0) == 0
        assert service.follow(session, [(line.id, "quarantine")], now=T0) == 0
    row = network_line(db, line.id)
    assert (row.line_state, row.desired, row.desired_seq) == ("quarantine", ABSENT, 2)


def test_a_lost_cards_removal_is_sent_though_its_line_has_no_network_row_any_more(db, net, hlr, adapters):
    line = sim_line(db, now=T0)
    send_due(db, net, now=T0, adapters=adapters)
    with db.transaction() as session:  # as network.inventory.report_lost does
        service.write(session, service.Command(line.id, IMSI, None, ABSENT, "lost"), track=False, now=T0)
        repository.forget_line(session, line.id)
    assert send_due(db, net, now=T0, adapters=adapters) == 1
    assert hlr.held == {}
    assert [(c.reason, c.status) for c in commands(db)] == [("bind", DONE), ("lost", DONE)]


def test_the_worker_sends_commands_every_round_and_walks_the_drift_check_a_page_at_a_time(db, net, hlr, adapters,
                                                                                          monkeypatch):
    monkeypatch.setattr("simkeep.network.tasks.PROCESS_ADAPTERS", adapters)
    monkeypatch.setattr("simkeep.core.clock.now", lambda: T0)
    sim_line(db, now=T0)
    jobs = {job.name: job for job in make_jobs(db, None, net, stopping=lambda: False)}
    provision, check = jobs["provision"], jobs["network_drift"]
    assert (provision.every, provision.rests, check.every, check.rests) == (0.0, False, 0.0, True)
    assert provision.run() == 1
    assert hlr.held == {IMSI: Held(IMSI, MSISDN, CS_PS)}
    assert provision.run() == 0
    assert check.run() == 1  # the first page (and the pass: one line)
    assert network_line(db, view(db).line.id).checked_at == T0
    assert check.run() == 0  # resting until the next interval
