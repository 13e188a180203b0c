import json
from datetime import timedelta

from sqlalchemy import select, update

from simkeep.core import clock
from simkeep.notification import service
from simkeep.notification.models import OutboxMessage
from simkeep.notification.senders.base import Outgoing, PermanentFailure, TemporaryFailure
from simkeep.notification.senders.file import FileSender
from simkeep.notification.tasks import deliver_due
from tests.factories.lines import make_line, top_up
from tests.web import freeze_clock


class Recording:
    """A sender that fails as told, then records what it delivered."""

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.failures = list(failures or [])
        self.sent: list[Outgoing] = []

    def send(self, message: Outgoing) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)


def rows(db) -> list[OutboxMessage]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)))


def make_due(db) -> None:
    """Pretend every pending message's retry time has come."""
    with db.transaction() as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=clock.now() - timedelta(seconds=1)))


def test_topup_confirmation_reaches_the_file_sender_in_the_subscribers_language(db, tmp_path):
    now = clock.now()
    make_line(db, language="fr", now=now)
    top_up(db, offer_id="fr-orange-mobicarte-10", now=now)
    log = tmp_path / "messages.log"
    assert deliver_due(db, FileSender(log, echo=False)) == 1
    [line] = log.read_text("utf-8").splitlines()
    sent = json.loads(line)
    [row] = rows(db)
    assert sent["id"] == str(row.id) and sent["to"] == "+33612345678" and sent["topic"] == "topup.completed"
    assert sent["text"].startswith("Votre recharge de 10,00\u00a0€ sur le +33612345678 est effectuée.")
    assert (row.status, row.attempts, row.sent_at is not None) == ("sent", 1, True)
    assert deliver_due(db, FileSender(log, echo=False)) == 0  # delivered once


def test_temporary_failures_back_off_exponentially_then_deliver(db, monkeypatch):
    # A frozen clock: with the real one, a second lost on a loaded machine moved the retry out of its window.
    now = freeze_clock(monkeypatch, clock.now()).at
    make_line(db, now=now)
    top_up(db, now=now)
    sender = Recording([TemporaryFailure("smsc busy"), TemporaryFailure("smsc busy")])
    deliver_due(db, sender)
    [row] = rows(db)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "TemporaryFailure: smsc busy")
    assert row.next_attempt_at - clock.now() == timedelta(seconds=5)
    assert deliver_due(db, sender) == 0  # not due yet
    make_due(db)
    deliver_due(db, sender)
    [row] = rows(db)
    assert row.attempts == 2
    assert row.next_attempt_at - clock.now() == timedelta(seconds=10)
    make_due(db)
    deliver_due(db, sender)
    [row] = rows(db)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    assert [m.id for m in sender.sent] == [row.id]


def test_permanent_failure_is_not_retried(db):
    now = clock.now()
    make_line(db, now=now)
    top_up(db, now=now)
    deliver_due(db, Recording([PermanentFailure("unknown subscriber")]))
    [row] = rows(db)
    assert (row.status, row.attempts) == ("failed", 1)
    make_due(db)
    assert deliver_due(db, Recording()) == 0


def test_retries_stop_after_max_attempts(db):
    now = clock.now()
    make_line(db, now=now)
    top_up(db, now=now)
    sender = Recording([TemporaryFailure("down")] * 3)
    for _ in range(3):
        make_due(db)
        deliver_due(db, sender, max_attempts=3)
    [row] = rows(db)
    assert (row.status, row.attempts) == ("failed", 3)


def test_a_worker_that_dies_mid_send_loses_nothing(db):
    now = clock.now()
    make_line(db, now=now)
    top_up(db, now=now)
    with db.transaction() as session:  # a worker leases the message, then is killed before recording anything
        [leased] = service.claim_due(session, now=now, lease_seconds=60)
    assert deliver_due(db, Recording()) == 0  # the lease keeps other workers off it
    with db.transaction() as session:
        session.execute(update(OutboxMessage).values(locked_until=clock.now() - timedelta(seconds=1)))
    sender = Recording()
    assert deliver_due(db, sender) == 1
    assert [m.id for m in sender.sent] == [leased.id]  # same stable id: receivers can deduplicate
    assert rows(db)[0].status == "sent"


def test_retry_delay_is_capped():
    assert [service.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert service.retry_delay(30) == timedelta(hours=1)


def test_an_sms_that_fails_for_good_falls_back_to_email_when_the_subscriber_gave_one(db):
    from simkeep.line import service as lines

    now = clock.now()
    with db.transaction() as session:
        lines.create_line(session, msisdn="+33612345678", operator_id="fr-orange-mobicarte", language="fr",
                          email="li.wei@example.org", now=now)
    top_up(db, now=now)
    deliver_due(db, Recording([PermanentFailure("absent subscriber")]))
    emails = [m for m in rows(db) if m.channel == "email"]
    assert [(m.topic, m.recipient, m.status) for m in emails] == [("topup.completed", "li.wei@example.org", "pending")]
    assert emails[0].dedup_key.endswith(":email")


def test_warnings_about_the_number_also_go_by_email(db):
    from simkeep.lifecycle.tasks import run_sweep
    from simkeep.line import service as lines
    from tests.conftest import T0

    with db.transaction() as session:
        line = lines.create_line(session, msisdn="+33612345678", operator_id="fr-syma", language="en",
                                 email="a@example.org", now=T0)
    run_sweep(db, now=line.validity_ends_at)
    by_channel = sorted((m.topic, m.channel) for m in rows(db) if m.topic == "line.grace")
    assert by_channel == [("line.grace", "email"), ("line.grace", "sms")]
