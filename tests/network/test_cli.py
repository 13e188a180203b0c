import re
from datetime import timedelta

import pytest

from simkeep.network.adapters import Held
from simkeep.network.models import CS, DONE, PENDING
from tests.conftest import T0
from tests.network.conftest import IMSI, MSISDN, commands, sim_line


@pytest.fixture
def wired(cli, monkeypatch, adapters):
    """The CLI's process adapters are the fake element's; every operator is routed to it."""
    monkeypatch.setenv("SIMKEEP_NETWORK_PROVISIONING", '{"*": "fake://hlr"}')
    monkeypatch.setattr("simkeep.network.tasks.PROCESS_ADAPTERS", adapters)
    monkeypatch.setattr("simkeep.core.clock.now", lambda: T0 + timedelta(minutes=5))
    return cli


def figure(out: str, label: str) -> int:
    """A figure of the summary table."""
    match = re.search(rf"{re.escape(label)}\s*│\s*([\d,]+)", out)
    assert match, out
    return int(match.group(1).replace(",", ""))


def test_provision_sends_what_is_due_and_says_what_waits(db, wired, hlr):
    sim_line(db, now=T0)
    sim_line(db, now=T0, msisdn="+33612345679", imsi="208011234567891")
    out = wired("network", "provision")
    assert "2 commands tried; 0 still waiting" in out
    assert sorted(hlr.held) == ["208011234567890", "208011234567891"]
    assert [c.status for c in commands(db)] == [DONE, DONE]


def test_drift_reports_then_repairs_with_a_summary_and_exit_codes(db, wired, hlr):
    sim_line(db, now=T0)
    wired("network", "provision")
    out = wired("network", "drift")
    assert (figure(out, "lines"), figure(out, "in sync"), figure(out, "different")) == (1, 1, 0)
    hlr.held[IMSI] = Held(IMSI, MSISDN, CS)
    out = wired("network", "drift", "--report-only", code=1)
    assert "20801********90" in out and "mode cs (want cs+ps)" in out
    assert [c.status for c in commands(db)] == [DONE]
    out = wired("network", "drift", "--repair", "--operator", "fr-syma")
    assert (figure(out, "different"), figure(out, "repaired (commands queued)")) == (1, 1)
    assert [(c.reason, c.status) for c in commands(db)] == [("bind", DONE), ("drift", PENDING)]
    wired("network", "provision")
    assert hlr.held[IMSI].mode == "cs+ps"
    assert figure(wired("network", "drift", "--operator", "fr-orange-mobicarte"), "lines") == 0
