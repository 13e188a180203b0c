"""The provisioning-gateway adapter against the reference gateway (tests/network/gateway_server.py), a real HTTP
server on 127.0.0.1 that verifies every signature: each mode applied and read back, removal, idempotent re-sending,
what a refused signature, an error, an overloaded or a silent gateway become (Rejected / Unavailable); then the
worker's outbox and the drift check with the gateway as the operator's network."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest

from simkeep.catalog.models import Operator
from simkeep.config import Settings
from simkeep.core.signing import sign
from simkeep.lifecycle.tasks import run_sweep
from simkeep.line import rules
from simkeep.network import drift
from simkeep.network.adapters import Held, Rejected, Unavailable, open_provisioner
from simkeep.network.adapters.gateway import Gateway, scrubbed, signed_message
from simkeep.network.models import ABSENT, CS, CS_PS, DONE, NONE, PENDING, PS
from simkeep.network.tasks import Adapters, send_due
from tests.conftest import T0
from tests.factories.lines import view
from tests.network.conftest import commands, network_line, sim_line
from tests.network.gateway_server import BASE_PATH, GatewayServer

SECRET = "gw-test-secret-0123456789abcdef0123456789abcdef"
IMSI, OTHER_IMSI = "208150000000001", "208150000000002"
MSISDN = "+33612345678"


@pytest.fixture
def gateway():
    with GatewayServer(SECRET) as server:
        yield server


@pytest.fixture
def adapter(gateway):
    adapter = open_provisioner(gateway.url, Settings(network_gateway_secret=SECRET))
    try:
        yield adapter
    finally:
        adapter.close()


@pytest.mark.parametrize("mode", [CS_PS, CS, PS, NONE])
def test_each_mode_is_put_whole_and_read_back(gateway, adapter, mode):
    adapter.apply(Held(IMSI, MSISDN, mode))

    assert gateway.subscribers == {IMSI: {"imsi": IMSI, "msisdn": MSISDN, "mode": mode}}
    assert adapter.read(IMSI) == Held(IMSI, MSISDN, mode)
    assert [(s.method, s.path, s.status) for s in gateway.seen] == [
        ("PUT", f"{BASE_PATH}/subscribers/{IMSI}", 201), ("GET", f"{BASE_PATH}/subscribers/{IMSI}", 200)]


def test_a_state_change_replaces_the_whole_subscriber(gateway, adapter):
    adapter.apply(Held(IMSI, MSISDN, CS_PS))
    adapter.apply(Held(IMSI, "+33699999999", NONE))

    assert gateway.subscribers[IMSI] == {"imsi": IMSI, "msisdn": "+33699999999", "mode": NONE}
    assert [s.status for s in gateway.seen] == [201, 200]


def test_absent_deletes_the_subscriber_and_reads_as_absent(gateway, adapter):
    adapter.apply(Held(IMSI, MSISDN, CS_PS))
    adapter.apply(Held(OTHER_IMSI, "+33611111111", CS))

    adapter.apply(Held(IMSI, None, ABSENT))

    assert list(gateway.subscribers) == [OTHER_IMSI]
    assert adapter.read(IMSI) == Held(IMSI, None, ABSENT)
    assert [(s.method, s.status) for s in gateway.seen[2:]] == [("DELETE", 204), ("GET", 404)]


def test_sending_the_same_state_again_changes_nothing(gateway, adapter):
    adapter.apply(Held(IMSI, MSISDN, CS))
    adapter.apply(Held(IMSI, MSISDN, CS))
    adapter.apply(Held(OTHER_IMSI, None, ABSENT))  # never there: already what was asked
    adapter.apply(Held(OTHER_IMSI, None, ABSENT))

    assert gateway.subscribers == {IMSI: {"imsi": IMSI, "msisdn": MSISDN, "mode": CS}}
    assert [(s.method, s.status) for s in gateway.seen] == [("PUT", 201), ("PUT", 200), ("DELETE", 404),
                                                            ("DELETE", 404)]


def test_every_request_carries_its_own_request_id(gateway, adapter):
    adapter.apply(Held(IMSI, MSISDN, CS))
    adapter.apply(Held(IMSI, MSISDN, CS))
    adapter.read(IMSI)

    ids = [s.request_id for s in gateway.seen]
    assert len(set(ids)) == 3 and all(len(i or "") == 36 for i in ids)


def test_a_wrong_secret_is_refused_by_the_gateway_and_changes_nothing(gateway):
    adapter = Gateway.from_url(gateway.url, Settings(network_gateway_secret="another-secret-0123456789abcdef01234"))
    try:
        with pytest.raises(Rejected, match=r"^gateway answered HTTP 401 signature_invalid: signature does not match$"):
            adapter.apply(Held(IMSI, MSISDN, CS_PS))
        with pytest.raises(Rejected, match="HTTP 401 signature_invalid"):
            adapter.read(IMSI)
    finally:
        adapter.close()
    assert gateway.subscribers == {}


def test_the_signature_covers_method_and_path_so_it_cannot_be_replayed_elsewhere(gateway, adapter):
    adapter.apply(Held(IMSI, MSISDN, CS_PS))
    adapter.apply(Held(OTHER_IMSI, "+33611111111", CS_PS))
    t = int(time.time())
    deletion = sign(SECRET, signed_message("DELETE", f"{BASE_PATH}/subscribers/{IMSI}", b""), t)
    body = json.dumps({"imsi": IMSI, "msisdn": MSISDN, "mode": NONE}).encode()
    put = sign(SECRET, signed_message("PUT", f"{BASE_PATH}/subscribers/{IMSI}", body), t)

    replays = [
        httpx.delete(f"{gateway.url}/subscribers/{OTHER_IMSI}", headers={"Simkeep-Signature": deletion}),
        httpx.put(f"{gateway.url}/subscribers/{IMSI}", content=body.replace(b"none", b"cs+ps"),
                  headers={"Simkeep-Signature": put}),
        httpx.request("GET", f"{gateway.url}/subscribers/{IMSI}", headers={"Simkeep-Signature": deletion}),
        httpx.delete(f"{gateway.url}/subscribers/{IMSI}"),
    ]

    assert [(r.status_code, r.json()["error"]["code"]) for r in replays] == [(401, "signature_invalid")] * 4
    assert sorted(gateway.subscribers) == [IMSI, OTHER_IMSI]
    honest = httpx.delete(f"{gateway.url}/subscribers/{IMSI}", headers={"Simkeep-Signature": deletion})
    assert honest.status_code == 204 and sorted(gateway.subscribers) == [OTHER_IMSI]


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
def test_an_overloaded_or_broken_gateway_is_unavailable(gateway, adapter, status):
    gateway.fail_next(status, "busy")

    with pytest.raises(Unavailable, match=f"^gateway answered HTTP {status} busy: failing on purpose"):
        adapter.apply(Held(IMSI, MSISDN, CS_PS))

    assert gateway.subscribers == {}
    adapter.apply(Held(IMSI, MSISDN, CS_PS))  # the retry goes through
    assert gateway.subscribers[IMSI]["mode"] == CS_PS


def test_a_refusal_is_rejected_with_the_gateways_code_and_message(gateway, adapter):
    adapter.apply(Held(IMSI, MSISDN, CS))

    with pytest.raises(Rejected, match=r"^gateway answered HTTP 422 invalid_msisdn: msisdn must be an E\.164 number"):
        adapter.apply(Held(IMSI, "0612345678", CS_PS))
    gateway.fail_next(403, "operator_locked")
    with pytest.raises(Rejected, match=r"^gateway answered HTTP 403 operator_locked: failing on purpose"):
        adapter.apply(Held(IMSI, MSISDN, CS_PS))

    assert gateway.subscribers == {IMSI: {"imsi": IMSI, "msisdn": MSISDN, "mode": CS}}


def test_a_refusal_without_a_json_error_keeps_the_start_of_the_body_without_full_numbers():
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"<html>bad request for {IMSI}</html>")

    adapter = Gateway("https://gw.example/v1", SECRET, transport=httpx.MockTransport(answer))
    with pytest.raises(Rejected) as refused:
        adapter.apply(Held(IMSI, MSISDN, CS))
    assert str(refused.value) == "gateway answered HTTP 400 <html>bad request for 208…01</html>"


def test_a_silent_gateway_times_out_as_unavailable(gateway):
    adapter = Gateway.from_url(f"{gateway.url}?timeout=0.3", Settings(network_gateway_secret=SECRET))
    try:
        with gateway.holding(), pytest.raises(Unavailable, match=r"^gateway timed out \(ReadTimeout\)$"):
            adapter.read(IMSI)
    finally:
        adapter.close()


def test_an_unreachable_gateway_is_unavailable():
    with GatewayServer(SECRET) as stopped:
        url = stopped.url
    adapter = Gateway.from_url(url, Settings(network_gateway_secret=SECRET))
    try:
        with pytest.raises(Unavailable, match=r"^gateway unreachable \(ConnectError"):
            adapter.apply(Held(IMSI, MSISDN, CS))
    finally:
        adapter.close()


def test_a_read_answer_that_is_not_the_subscriber_asked_for_is_not_believed(gateway, adapter):
    gateway.subscribers[IMSI] = {"imsi": OTHER_IMSI, "msisdn": MSISDN, "mode": CS}

    with pytest.raises(Unavailable, match="not the one asked for"):
        adapter.read(IMSI)
    gateway.subscribers[IMSI] = {"imsi": IMSI, "msisdn": MSISDN, "mode": "barred"}
    with pytest.raises(Unavailable, match="not the one asked for"):
        adapter.read(IMSI)


def test_a_404_that_is_not_an_unknown_subscriber_is_not_taken_for_absence(gateway):
    adapter = Gateway.from_url(gateway.url.replace(BASE_PATH, "/wrong/v1"), Settings(network_gateway_secret=SECRET))
    try:
        with pytest.raises(Rejected, match=r"^gateway answered HTTP 404 not_found: no such resource: GET /wrong/v1/"):
            adapter.read(IMSI)
        with pytest.raises(Rejected, match=r"^gateway answered HTTP 404 not_found"):
            adapter.apply(Held(IMSI, None, ABSENT))
    finally:
        adapter.close()


def test_a_redirect_is_not_followed():
    adapter = Gateway("https://gw.example/v1", SECRET, transport=httpx.MockTransport(
        lambda request: httpx.Response(301, headers={"Location": "https://elsewhere.example/"})))
    with pytest.raises(Rejected, match="HTTP 301, a redirect"):
        adapter.read(IMSI)


def test_the_url_names_the_base_and_its_options():
    settings = Settings(network_gateway_secret=SECRET)
    adapter = Gateway.from_url("https://gw.example/prov/v1/?timeout=2.5", settings)
    assert (adapter.base, adapter.client.timeout.read, adapter.client.timeout.connect) == (
        "https://gw.example/prov/v1", 2.5, 2.5)
    with pytest.raises(ValueError, match=r"unknown provisioning gateway URL option\(s\): retries \(timeout\)"):
        Gateway.from_url("https://gw.example/v1?retries=3", settings)
    assert Gateway.from_url("https://gw.example/v1", settings).client.timeout.read == 5.0
    with pytest.raises(ValueError, match=r"^the gateway timeout \(8 s, 11 s with connecting\) must be positive and "
                                         r"fit in half of SIMKEEP_NETWORK_LEASE_SECONDS \(20 s\)$"):
        Gateway.from_url("https://gw.example/v1?timeout=8", settings.model_copy(update={"network_lease_seconds": 20}))
    with pytest.raises(ValueError, match="SIMKEEP_NETWORK_GATEWAY_SECRET is not set"):
        Gateway.from_url("https://gw.example/v1", Settings())


def test_a_mode_without_a_number_is_not_sent(gateway, adapter):
    with pytest.raises(Rejected, match="not a state a gateway can hold"):
        adapter.apply(Held(IMSI, None, CS))
    assert gateway.seen == []


@pytest.mark.parametrize("imsi", ["../admin", "20801 123", "2080112345678901", "20801%2F1", ""])
def test_only_an_imsi_of_digits_names_a_resource(gateway, adapter, imsi):
    with pytest.raises(Rejected, match=r"^not an IMSI \(6 to 15 digits\)$"):
        adapter.read(imsi)
    with pytest.raises(Rejected, match=r"^not an IMSI"):
        adapter.apply(Held(imsi, None, ABSENT))
    assert gateway.seen == []


def test_scrubbing_keeps_the_ends_of_long_numbers_only():
    assert scrubbed("IMSI 208150000000001 for +33612345678, code 42") == "IMSI 208…01 for +336…78, code 42"


# -- through the worker: the outbox and the drift check with the gateway as an operator's network ----------------

def test_the_worker_walks_a_line_through_its_states_on_the_gateway_and_waits_out_an_outage(db, settings, gateway):
    net = settings.model_copy(update={"network_provisioning": {"*": gateway.url}, "network_gateway_secret": SECRET})
    adapters = Adapters()
    try:
        line = sim_line(db, now=T0, msisdn=MSISDN, imsi=IMSI)
        send_due(db, net, now=T0, adapters=adapters)
        assert gateway.subscribers == {IMSI: {"imsi": IMSI, "msisdn": MSISDN, "mode": CS_PS}}

        at = _stages(db, line)
        suspended = at.suspended_at + timedelta(hours=1)
        run_sweep(db, now=suspended)  # grace, then suspended: one command says the latest
        gateway.fail_next(503, "hlr_maintenance")
        send_due(db, net, now=suspended, adapters=adapters)
        (waiting,) = [c for c in commands(db, line.id) if c.status == PENDING]
        assert (waiting.mode, waiting.attempts, waiting.last_error) == (
            NONE, 1, "unavailable: gateway answered HTTP 503 hlr_maintenance: failing on purpose (GatewayServer"
                     ".fail_next)")
        assert gateway.subscribers[IMSI]["mode"] == CS_PS  # nothing moved on the network

        send_due(db, net, now=suspended + timedelta(minutes=10), adapters=adapters)
        assert gateway.subscribers[IMSI]["mode"] == NONE
        assert (network_line(db, line.id).desired, network_line(db, line.id).confirmed) == (NONE, NONE)

        lost = at.number_loss_at + timedelta(hours=1)
        run_sweep(db, now=lost)
        send_due(db, net, now=lost, adapters=adapters)
        assert gateway.subscribers == {}
        assert [(c.mode, c.status) for c in commands(db, line.id)][-1] == (ABSENT, DONE)
        assert [(s.method, s.status) for s in gateway.seen] == [("PUT", 201), ("PUT", 503), ("PUT", 200),
                                                                ("DELETE", 204)]
    finally:
        adapters.close()


def test_the_drift_check_reads_the_gateway_and_repairs_a_flag_changed_by_hand(db, settings, gateway):
    net = settings.model_copy(update={"network_provisioning": {"*": gateway.url}, "network_gateway_secret": SECRET})
    adapters = Adapters()
    try:
        line = sim_line(db, now=T0, msisdn=MSISDN, imsi=IMSI)
        send_due(db, net, now=T0, adapters=adapters)
        gateway.subscribers[IMSI] = {"imsi": IMSI, "msisdn": MSISDN, "mode": PS}  # someone turned calls off

        later = T0 + timedelta(hours=1)
        found = drift.check(db, net, repair=True, now=later, adapters=adapters)
        assert (found.lines, found.drifted, found.repaired) == (1, 1, 1)
        assert network_line(db, line.id).drift == "mode ps (want cs+ps)"
        send_due(db, net, now=later, adapters=adapters)

        assert gateway.subscribers[IMSI] == {"imsi": IMSI, "msisdn": MSISDN, "mode": CS_PS}
        again = drift.check(db, net, repair=True, now=later + timedelta(hours=1), adapters=adapters)
        assert (again.lines, again.in_sync, again.drifted) == (1, 1, 0)
    finally:
        adapters.close()


def _stages(db, line):
    with db.transaction(write=False) as session:
        operator = session.get(Operator, line.operator_id)
        return rules.stages(operator, view(db).line.validity_ends_at)
