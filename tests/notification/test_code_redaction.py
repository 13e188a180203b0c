"""No sign-in code in any log: the console echo, the outbox row once sent or failed for good, the delivery log,
the error columns and the worker's own log lines."""

import json
from datetime import timedelta

import structlog
from sqlalchemy import select, update

from simkeep.core import clock
from simkeep.notification import service, templates
from simkeep.notification.models import DeliveryAttempt, OutboxMessage
from simkeep.notification.senders.base import PermanentFailure
from simkeep.notification.senders.file import FileSender
from simkeep.notification.tasks import deliver_due
from simkeep.otp import service as otp
from tests.factories.lines import make_line

MSISDN = "+33612345678"
REDACTED_EN = "Your simkeep code is ******. It is valid for 5 minutes. Never share it."


class QuotingSmsc:
    """An SMSC that refuses the message and quotes it back in its error, as some do."""

    def send(self, message):
        raise PermanentFailure(f"rejected: {message.text!r} (payload {json.dumps(message.payload)})")


def ask_code(db) -> tuple[OutboxMessage, str]:
    now = clock.now()
    make_line(db, language="en", now=now)
    with db.transaction() as session:
        otp.request_code(session, msisdn=MSISDN, secret="k", now=now)
    with db.transaction(write=False) as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "otp.code")).one()
    return row, row.payload["code"]


def everything_stored(db, message_id) -> str:
    with db.transaction(write=False) as session:
        row = session.get(OutboxMessage, message_id)
        attempts = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id)).all()
        text = templates.render(row.topic, row.language, row.payload, now=clock.now())
        return json.dumps({"payload": row.payload, "error": row.last_error, "text": text,
                           "attempts": [a.detail for a in attempts]}, ensure_ascii=False)


def test_the_console_echo_redacts_the_code_and_the_row_is_scrubbed_once_sent(db, tmp_path, capsys):
    row, code = ask_code(db)
    log = tmp_path / "messages.log"
    with structlog.testing.capture_logs() as logs:
        assert deliver_due(db, FileSender(log, echo=True)) == 1
    assert capsys.readouterr().out == f"[sms → {MSISDN}] {REDACTED_EN}\n"
    # messages.log is the demo's phone: the SMS itself, code included, and nothing else.
    [sms] = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    assert sms["payload"]["code"] == code and code in sms["text"]
    stored = everything_stored(db, row.id)
    assert code not in stored and code not in repr(logs)
    with db.transaction(write=False) as session:
        assert session.get(OutboxMessage, row.id).payload == {"code": "******", "minutes": 5}


def test_a_code_that_fails_for_good_is_scrubbed_everywhere(db, tmp_path):
    row, code = ask_code(db)
    with structlog.testing.capture_logs() as logs:
        assert deliver_due(db, QuotingSmsc()) == 1
    with db.transaction(write=False) as session:
        failed = session.get(OutboxMessage, row.id)
        [attempt] = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.message_id == row.id)).all()
    assert (failed.status, failed.payload) == ("failed", {"code": "******", "minutes": 5})
    expected_error = (f"PermanentFailure: rejected: '{REDACTED_EN}' "
                      '(payload {"code": "******", "minutes": 5})')
    assert failed.last_error == expected_error and attempt.detail == expected_error
    assert [entry["error"] for entry in logs if entry["event"] == "message.failed"] == [
        f"rejected: '{REDACTED_EN}' " + '(payload {"code": "******", "minutes": 5})']
    assert code not in everything_stored(db, row.id) and code not in repr(logs)
    assert not (tmp_path / "messages.log").exists()


def test_a_code_that_runs_out_of_retries_is_scrubbed(db, tmp_path):
    """The file sender failing every time (its directory is not writable): retries, then failed for good."""
    row, code = ask_code(db)
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    sender = FileSender(blocked, echo=False)  # a directory: every write fails with an OSError
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            deliver_due(db, sender, max_attempts=3)
            with db.transaction() as session:
                session.execute(update(OutboxMessage).values(next_attempt_at=clock.now() - timedelta(seconds=1)))
    with db.transaction(write=False) as session:
        failed = session.get(OutboxMessage, row.id)
    assert (failed.status, failed.attempts, failed.payload) == ("failed", 3, {"code": "******", "minutes": 5})
    assert code not in everything_stored(db, row.id) and code not in repr(logs)


def test_scrub_leaves_other_topics_alone():
    message = service.Outgoing(id=None, topic="topup.completed", channel="sms", recipient=MSISDN, language="en",
                               text="t", payload={"code": "123456"}, attempt=1)
    assert service.scrub(message, "error 123456") == "error 123456"
