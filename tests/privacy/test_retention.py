"""The retention rules delete or blank exactly what is past its period: a row one second inside it stays; a dry run
counts and changes nothing; blanking remembers how far it went; batches add up; the worker runs it as `retention`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from simkeep.config import Settings
from simkeep.core.ids import new_id
from simkeep.notification.models import InboundMessage, OutboxMessage
from simkeep.otp.models import OtpChallenge, OtpFailure, OtpNumber
from simkeep.privacy import retention
from simkeep.privacy.models import RetentionRun
from simkeep.session.models import WebSession
from simkeep.store.models import IdCheck
from simkeep.voice.models import VoiceCall, VoiceTurn
from simkeep.voucher.models import VoucherFailure
from simkeep.worker import make_jobs
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.snapshot import snapshot
from tests.factories.stores import make_store

NOW = T0 + timedelta(days=400)
SECOND = timedelta(seconds=1)


def ago(days: int, extra: timedelta = timedelta(0)):
    return NOW - timedelta(days=days) + extra


def seed(db, settings: Settings) -> None:
    """For each rule, one row just past its period (1 s) and one just inside it (1 s)."""
    line = make_line(db, now=T0)
    store = make_store(db, now=T0)
    days = {rule.key: rule.days(settings) for rule in retention.RULES}
    with db.transaction() as session:
        for tag, shift in (("old", -SECOND), ("new", SECOND)):
            session.execute(insert(IdCheck.__table__), [dict(
                id=new_id(), store_id=store.id, line_id=line.id, document_type="passport", issuing_country="FR",
                last4=tag[:4].upper(), checked_by="staff:li", checked_at=ago(days["id_checks"], shift))])
            at = ago(days["sign_in_codes"], shift)
            session.execute(insert(OtpChallenge.__table__), [dict(
                id=new_id(), msisdn="+33612345678", code_hash=tag, attempts=0,
                created_at=at - timedelta(minutes=5), expires_at=at, consumed_at=None)])
            session.execute(insert(OtpFailure.__table__), [dict(id=new_id(), msisdn="+33612345678", at=at)])
            session.execute(insert(OtpNumber.__table__), [dict(msisdn=f"+33612345{tag}", touched_at=at)])
            session.execute(insert(VoucherFailure.__table__), [dict(
                id=new_id(), msisdn="+33612345678", reason="pin_unknown", counted=True, serial=None, channel="sms",
                client=tag, at=ago(days["voucher_failures"], shift))])
            session.execute(insert(OutboxMessage.__table__), [dict(
                id=new_id(), dedup_key=f"m-{tag}", topic="reminder", channel="sms", recipient="+33612345678",
                language="fr", line_id=line.id, payload={"body": tag}, status="sent", attempts=1,
                next_attempt_at=ago(days["message_bodies"], shift), created_at=ago(days["message_bodies"], shift))])
            session.execute(insert(InboundMessage.__table__), [dict(
                id=new_id(), sender="+33612345678", text=f"SOLDE {tag}", received_at=ago(days["inbound_texts"], shift),
                outcome="answered", external_id=f"in-{tag}", line_id=line.id)])
            call_id = new_id()
            session.execute(insert(VoiceCall.__table__), [dict(
                id=call_id, call_id=f"c-{tag}", transport="sip", caller="+33612345678", called="+33170000000",
                line_id=line.id, language="fr", state={}, done=[], turns=1, outcome="hangup",
                started_at=ago(days["voice_turns"], shift), updated_at=ago(days["voice_turns"], shift), ended_at=None)])
            session.execute(insert(VoiceTurn.__table__), [dict(
                id=new_id(), call_id=call_id, seq=1, step="menu", input="1", prompts=[], then="none",
                at=ago(days["voice_turns"], shift))])
            expires = ago(days["web_sessions"], shift)
            session.execute(insert(WebSession.__table__), [dict(
                id=new_id(), token_hash=tag * 16, data={"msisdn": "+33612345678"}, staff_id=None,
                created_at=expires - timedelta(days=1), last_seen_at=expires - timedelta(hours=1),
                idle_expires_at=expires, expires_at=expires, user_agent="", client_address="")])


def state(db) -> dict:
    with db.transaction(write=False) as session:
        return {
            "id_checks": sorted(session.scalars(select(IdCheck.last4))),
            "otp_challenges": sorted(session.scalars(select(OtpChallenge.code_hash))),
            "otp_failures": len(session.scalars(select(OtpFailure.id)).all()),
            "otp_numbers": sorted(session.scalars(select(OtpNumber.msisdn))),
            "voucher_failures": sorted(session.scalars(select(VoucherFailure.client))),
            "outbox": sorted((m.dedup_key, m.status, m.payload) for m in session.scalars(select(OutboxMessage))),
            "inbound": sorted((m.external_id, m.text) for m in session.scalars(select(InboundMessage))),
            "voice_turns": len(session.scalars(select(VoiceTurn.id)).all()),
            "voice_calls": len(session.scalars(select(VoiceCall.id)).all()),
            "web_sessions": sorted(session.scalars(select(WebSession.token_hash))),
        }


def test_each_rule_purges_exactly_what_is_past_its_period(db, settings):
    seed(db, settings)
    before = snapshot(db)
    counted = retention.run(db, settings, now=NOW, dry_run=True)
    assert snapshot(db) == before  # a dry run changes nothing
    expected = {"id_checks": 1, "sign_in_codes": 3, "voucher_failures": 1, "message_bodies": 1, "inbound_texts": 1,
                "voice_turns": 1, "web_sessions": 1}
    assert {o.rule: o.rows for o in counted} == expected

    done = retention.run(db, settings, now=NOW, batch=1)  # one row per transaction: batches add up
    assert {o.rule: o.rows for o in done} == expected
    assert {o.rule: o.days for o in done} == {"id_checks": 30, "sign_in_codes": 7, "voucher_failures": 30,
                                              "message_bodies": 90, "inbound_texts": 90, "voice_turns": 30,
                                              "web_sessions": 0}
    assert state(db) == {
        "id_checks": ["NEW"], "otp_challenges": ["new"], "otp_failures": 1, "otp_numbers": ["+33612345new"],
        "voucher_failures": ["new"],
        "outbox": [("m-new", "sent", {"body": "new"}), ("m-old", "sent", {})],  # the record stays, the body goes
        "inbound": [("in-new", "SOLDE new"), ("in-old", "")],
        "voice_turns": 1, "voice_calls": 2, "web_sessions": ["new" * 16],
    }
    with db.transaction(write=False) as session:
        runs = {r.rule: (r.through_at, r.rows) for r in session.scalars(select(RetentionRun))}
    assert runs == {"message_bodies": (ago(90), 1), "inbound_texts": (ago(90), 1)}

    # The next day: nothing new is due, and the blanking rules start where they stopped.
    assert {o.rule: o.rows for o in retention.run(db, settings, now=NOW + timedelta(days=1))} == {
        "id_checks": 1, "sign_in_codes": 3, "voucher_failures": 1, "message_bodies": 1, "inbound_texts": 1,
        "voice_turns": 1, "web_sessions": 1}
    assert retention.run(db, settings, now=NOW + timedelta(days=1)) == [
        retention.Outcome(o.rule, o.days, 0) for o in done]


def test_the_worker_runs_retention_daily_instead_of_the_old_purges(db, settings):
    jobs = {job.name: job for job in make_jobs(db, sender=None, settings=settings, stopping=lambda: False)}
    assert jobs["retention"].every == 24 * 3600 and jobs["retention"].rests
    assert "purge_id_checks" not in jobs and "purge_sessions" not in jobs


def test_the_cli_runs_or_counts(cli, db, settings):
    make_line(db, now=T0)
    out = cli("privacy", "retention", "--dry-run")
    assert "would be purged" in out and "message_bodies" in out
