"""A request id follows a request from the HTTP answer into the worker: grep one id, read the whole story."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from simkeep.core import logs
from simkeep.notification.models import OutboxMessage
from simkeep.notification.senders.base import Outgoing, Sent
from simkeep.notification.tasks import deliver_due
from simkeep.ops.http import request_id_of
from tests.factories.lines import make_line
from tests.web import freeze_clock

TOPUP = {"msisdn": "+33612345678", "offer_id": "fr-orange-mobicarte-10", "channel": "api"}


class Recording:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    def send(self, message: Outgoing) -> Sent:
        self.sent.append(message)
        return Sent(external_id=f"smsc-{len(self.sent)}")


def log_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


@pytest.fixture
def line(db, monkeypatch):
    return make_line(db, now=freeze_clock(monkeypatch).at)


def test_an_api_top_ups_id_is_in_its_answer_its_access_log_and_the_workers_line_for_its_sms(client, db, line, capsys):
    logs.configure("info")
    capsys.readouterr()
    response = client.post("/api/v1/topups", json=TOPUP,
                           headers={"Idempotency-Key": "flow-1", "X-Request-Id": "lb-7f3a9c21e4d0"})
    assert response.status_code == 201
    assert response.headers["x-request-id"] == "lb-7f3a9c21e4d0"
    [access] = [entry for entry in log_lines(capsys) if entry["event"] == "http.request"]
    assert {k: access[k] for k in ("method", "route", "status", "request_id")} == {
        "method": "POST", "route": "/api/v1/topups", "status": 201, "request_id": "lb-7f3a9c21e4d0"}
    with db.transaction(write=False) as session:
        [sms] = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sms")).all()
        events = session.scalars(select(OutboxMessage.request_id).where(OutboxMessage.channel != "sms")).all()
    assert (sms.topic, sms.request_id) == ("topup.completed", "lb-7f3a9c21e4d0")
    assert set(events) <= {"lb-7f3a9c21e4d0"}  # the operator's events, if any endpoint subscribes, too

    sender = Recording()
    assert deliver_due(db, sender) == 1
    [sent_line] = [entry for entry in log_lines(capsys) if entry["event"] == "message.sent"]
    assert (sent_line["request_id"], sent_line["id"], sent_line["topic"]) == (
        "lb-7f3a9c21e4d0", str(sms.id), "topup.completed")
    assert sender.sent[0].request_id == "lb-7f3a9c21e4d0"


def test_a_request_without_a_usable_id_gets_a_new_one_and_the_access_log_has_no_number_nor_query(client, line,
                                                                                                  capsys):
    logs.configure("info")
    capsys.readouterr()
    response = client.get("/api/v1/lines/+33612345678?code=123456", headers={"X-Request-Id": "bad id\nforged"})
    assert response.status_code == 200
    minted = response.headers["x-request-id"]
    assert len(minted) == 32 and minted != "bad id\nforged"
    output = capsys.readouterr().out
    [access] = [json.loads(x) for x in output.splitlines() if x.startswith("{") and '"http.request"' in x]
    assert (access["route"], access["request_id"], access["status"]) == ("/api/v1/lines/{msisdn}", minted, 200)
    assert "33612345678" not in output and "123456" not in output


def test_each_request_gets_its_own_id():
    assert request_id_of([]) != request_id_of([])
    assert request_id_of([(b"x-request-id", b"short")]) != "short"  # under 8 characters: not believed
    assert request_id_of([(b"x-request-id", b"a" * 64)]) == "a" * 64
    assert request_id_of([(b"x-request-id", b"a" * 65)]) != "a" * 65


def test_an_unknown_path_is_counted_under_one_label_not_its_own(client, capsys):
    logs.configure("info")
    capsys.readouterr()
    assert client.get("/api/v1/nothing/+33612345678").status_code == 404
    [access] = [entry for entry in log_lines(capsys) if entry["event"] == "http.request"]
    assert (access["route"], access["status"]) == ("unmatched", 404)
