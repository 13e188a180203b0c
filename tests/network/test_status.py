import html
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from simkeep.main import create_app
from simkeep.network import service
from simkeep.network.tasks import send_due
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.staff import make_staff, sign_in
from tests.network.conftest import MSISDN, sim_line


def test_the_line_api_shows_desired_and_confirmed_network_state(db, net, hlr, adapters, client):
    sim_line(db, now=T0)
    hlr.down = True
    send_due(db, net, now=T0, adapters=adapters)
    body = client.get(f"/api/v1/lines/{MSISDN}").json()
    assert body["network"] == {
        "desired": "cs+ps", "desired_at": "2027-03-01T09:00:00Z", "confirmed": None, "confirmed_at": None,
        "in_sync": False, "pending_commands": 1, "last_error": "unavailable: connection refused",
        "imsi": "20801********90", "checked_at": None, "drift": None}
    hlr.down = False
    later = T0 + timedelta(minutes=10)
    send_due(db, net, now=later, adapters=adapters)
    network = client.get(f"/api/v1/lines/{MSISDN}").json()["network"]
    assert (network["confirmed"], network["confirmed_at"], network["in_sync"], network["pending_commands"],
            network["last_error"]) == ("cs+ps", "2027-03-01T09:10:00Z", True, 0, None)


def test_a_line_without_a_sim_has_no_network_state_in_the_api(db, client):
    make_line(db, now=T0)
    assert client.get("/api/v1/lines/%2B33612345678").json()["network"] is None


@pytest.fixture
def staff(db, settings):
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        sign_in(client, db, make_staff(db, settings, username="sam", role="support"))
        yield client


def test_the_admin_line_page_shows_the_network_state_and_the_last_commands(db, net, hlr, adapters, staff):
    line = sim_line(db, now=T0)
    send_due(db, net, now=T0, adapters=adapters)
    hlr.reject = "unknown subscriber"
    with db.transaction() as session:
        service.follow(session, [(line.id, "suspended")], now=T0 + timedelta(minutes=1))
    send_due(db, net, now=T0 + timedelta(minutes=1), adapters=adapters)
    page = html.unescape(staff.get("/admin/lines/%2B33612345678").text)
    facts = page.split('id="network"')[1].split("</dl>")[0]
    assert "<dd class=\"reference\">20801********90</dd>" in facts
    assert "<dt>Should hold</dt><dd>All barred" in facts
    assert "<dt>Network confirmed</dt><dd>Calls, SMS and data" in facts
    assert "<dd>1 · <strong>Last error:</strong> <code>rejected: unknown subscriber</code></dd>" in facts
    assert "Not checked yet." in facts
    table = page.split('id="provisioning"')[1].split("</table>")[0]
    assert table.count("<tr><td>") == 2
    assert [cell in table for cell in ("Suspended", "Waiting", "Confirmed", "bind")] == [True] * 4


def test_the_admin_line_page_of_a_line_without_a_sim_says_so(db, staff):
    make_line(db, now=T0)
    page = html.unescape(staff.get("/admin/lines/%2B33612345678").text)
    assert "No SIM is bound to this line: nothing to provision." in page
