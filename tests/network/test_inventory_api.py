"""The inventory's JSON API: cards by state and prefix for staff tokens; a line's card assigned, swapped and reported
lost with an admin token, the line's number moving in one transaction."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from simkeep.main import create_app
from simkeep.network.models import ProvisioningCommand
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.network.test_inventory import iccid, imsi, stock
from tests.voucher import api_key

MSISDN = "+33612345678"


def test_assign_swap_and_lost_through_the_api(client, db):
    first, second = stock(db, 1, 2)
    line = make_line(db, msisdn=MSISDN, now=T0)
    answer = client.post(f"/api/v1/lines/{MSISDN}/sim", json={"iccid": first, "reason": "new subscriber"})
    assert answer.status_code == 201
    body = answer.json()
    assert (body["iccid"], body["imsi"], body["state"], body["line_id"]) == (first, imsi(1), "assigned", str(line.id))
    answer = client.post("/api/v1/lines/0612345678/sim/swap", json={"iccid": second, "reason": "stolen", "lost": True})
    assert answer.status_code == 200 and answer.json()["iccid"] == second
    assert client.get(f"/api/v1/network/sims/{first}").json()["state"] == "lost"
    answer = client.post(f"/api/v1/lines/{MSISDN}/sim/lost", json={"reason": "lost again"})
    assert (answer.status_code, answer.json()["iccid"], answer.json()["state"]) == (200, second, "lost")
    listed = client.get("/api/v1/network/sims", params={"q": iccid(0)[:8], "operator_id": "fr-orange-mobicarte"})
    assert listed.json()["counts"] == {"in_stock": 0, "assigned": 0, "lost": 2, "retired": 0}
    assert [s["iccid"] for s in listed.json()["sims"]] == [second, first]  # the latest change first
    with db.transaction(write=False) as session:
        assert list(session.scalars(select(ProvisioningCommand.mode).order_by(ProvisioningCommand.seq))) == [
            "cs+ps", "absent", "cs+ps", "absent"]


def test_refusals_carry_their_codes_and_move_nothing(client, db):
    [first] = stock(db, 1)
    make_line(db, msisdn=MSISDN, now=T0)
    assert client.post(f"/api/v1/lines/{MSISDN}/sim/swap", json={"iccid": first, "reason": "x"}).json()[
        "error"]["code"] == "line_has_no_sim"
    answer = client.post(f"/api/v1/lines/{MSISDN}/sim", json={"iccid": iccid(9), "reason": "x"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "sim_not_found")
    answer = client.post("/api/v1/lines/+33699999999/sim", json={"iccid": first, "reason": "x"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "line_not_found")
    assert client.get(f"/api/v1/network/sims/{first}").json()["state"] == "in_stock"


def test_an_agent_token_reads_the_stock_but_cannot_change_a_card(settings, db):
    [first] = stock(db, 1)
    make_line(db, msisdn=MSISDN, now=T0)
    with TestClient(create_app(settings, db), headers=api_key(db, settings, role="agent")) as agent:
        assert agent.get("/api/v1/network/sims").json()["counts"]["in_stock"] == 1
        answer = agent.post(f"/api/v1/lines/{MSISDN}/sim", json={"iccid": first, "reason": "x"})
        assert answer.status_code == 403
    with db.transaction(write=False) as session:
        assert session.scalars(select(ProvisioningCommand)).all() == []
