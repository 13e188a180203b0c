"""Outbound events for the operator's systems, received by a real HTTP server on 127.0.0.1."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from simkeep.core.signing import verify
from simkeep.lifecycle.tasks import run_sweep
from simkeep.notification import events
from simkeep.notification.models import DeliveryAttempt, OutboxMessage
from simkeep.notification.senders import make_sender
from simkeep.notification.tasks import deliver_due
from tests.factories.lines import make_line, top_up
from tests.factories.payments import now


class Receiver:
    """Answers with the next status in `answers` (then 200) and records what it got."""

    def __init__(self, answers: list[int] | None = None) -> None:
        self.answers, self.got = list(answers or []), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append((dict(self.headers), body))
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


def subscribe(db, url, topics=events.TOPICS):
    with db.transaction() as session:
        _endpoint, secret = events.add_endpoint(session, url=url, topics=list(topics), now=now())
    return secret


def deliver_all(db, settings):
    sender = make_sender(settings, db)
    with db.transaction() as session:
        session.execute(OutboxMessage.__table__.update().values(next_attempt_at=now()))
    return deliver_due(db, sender)


def test_a_topup_is_announced_signed_with_a_stable_event_id(db, settings, receiver):
    secret = subscribe(db, receiver.url, ["topup.completed"])
    make_line(db, now=now())
    result = top_up(db, now=now())
    deliver_all(db, settings)
    [(headers, body)] = receiver.got
    verify(secret, body, headers["Simkeep-Signature"], int(time.time()))
    event = json.loads(body)
    assert event["type"] == "topup.completed" and event["data"]["topup_id"] == str(result.topup.id)
    assert event["data"]["amount"] == {"amount_minor": 1000, "currency": "EUR"}
    assert headers["Webhook-Id"]  # the outbox message id: receivers deduplicate on it


def test_a_failing_receiver_is_retried_and_every_attempt_is_logged(db, settings):
    receiver = Receiver(answers=[503, 500])
    try:
        subscribe(db, receiver.url, ["topup.completed"])
        make_line(db, now=now())
        top_up(db, now=now())
        for _ in range(3):
            deliver_all(db, settings)
    finally:
        receiver.server.shutdown()
    assert len(receiver.got) == 3
    ids = {json.loads(body)["id"] for _, body in receiver.got}
    assert len(ids) == 1  # the same event each time
    with db.transaction(write=False) as session:
        [message] = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "webhook")).all()
        log = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.message_id == message.id)
                              .order_by(DeliveryAttempt.attempt)).all()
    assert (message.status, message.attempts) == ("sent", 3)
    assert [(a.attempt, a.outcome, a.detail) for a in log] == [
        (1, "retry", "TemporaryFailure: HTTP 503"), (2, "retry", "TemporaryFailure: HTTP 500"), (3, "sent", "HTTP 200")]


def test_state_changes_go_to_subscribed_endpoints(db, settings, receiver):
    subscribe(db, receiver.url, ["line.state_changed"])
    line = make_line(db, operator_id="fr-syma", now=now())
    run_sweep(db, now=line.validity_ends_at)
    deliver_all(db, settings)
    [(_headers, body)] = receiver.got
    assert json.loads(body)["data"] | {"at": None} == {
        "line_id": str(line.id), "msisdn": "+33612345678", "from": "active", "to": "grace", "at": None}
