"""Erasure: after a subscriber who used every channel is erased, no text or JSON column of any table (walked from
the schema, so a table added later is walked too) and no log line holds their number in any written form or their
e-mail; the ledger still verifies, balances and receipts are unchanged; twice is the same as once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import JSON, LargeBinary, String, Text, func, select, update
from structlog.testing import capture_logs

from simkeep.audit.models import AuditEntry
from simkeep.ledger import service as ledger
from simkeep.ledger.models import Account, JournalEntry, Posting
from simkeep.line.models import ACTIVE, AVAILABLE, DEACTIVATED, Line, LineEvent
from simkeep.models import Base
from simkeep.network.models import NetworkNumber
from simkeep.notification.models import OutboxMessage
from simkeep.privacy import service as privacy
from simkeep.privacy.models import Erasure
from simkeep.receipt.models import Receipt, ReceiptPdf
from simkeep.topup.models import TopUp
from tests.conftest import T0
from tests.factories.lines import make_line, top_up
from tests.factories.snapshot import snapshot
from tests.privacy.subscriber import DIGITS, EMAIL, MSISDN, NATIONAL, make_subscriber, now

NEEDLES = (MSISDN, DIGITS, NATIONAL, EMAIL.lower())
# The operator's number range is its inventory, not the person's: the number stays there, free for the next holder.
NOT_PERSONAL = {("network_numbers", "msisdn")}
STORED = ["customer_cashbacks.msisdn", "inbound_messages.sender", "line_notes.text", "lines.email", "lines.msisdn", "network_lines.msisdn",
          "otp_challenges.msisdn", "otp_failures.msisdn", "otp_numbers.msisdn", "outbox.payload", "outbox.recipient",
          "payment_attempts.msisdn", "provisioning_commands.msisdn", "quotes.msisdn", "receipts.msisdn",
          "store_sales.msisdn", "topups.msisdn", "ussd_sessions.msisdn", "ussd_sessions.open_key", "voice_calls.caller",
          "voice_calls.done", "voice_calls.state", "voucher_failures.msisdn", "vouchers.redeemed_msisdn",
          "web_sessions.data"]


def where_found(db) -> list[str]:
    """Every (table.column) whose stored text mentions the subscriber, walked from the schema."""
    found = []
    with db.transaction(write=False) as session:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if (table.name, column.name) in NOT_PERSONAL:
                    continue
                if not isinstance(column.type, String | Text | JSON | LargeBinary) and not isinstance(
                        getattr(column.type, "impl", None), String | Text):
                    continue
                for value in session.scalars(select(column)):
                    if value is None:
                        continue
                    text = (value.decode("latin-1") if isinstance(value, bytes)
                            else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
                    if any(needle in text.lower() for needle in NEEDLES):
                        found.append(f"{table.name}.{column.name}")
    return sorted(set(found))


def erase(db, settings, *, close_line=False, reason="GDPR art. 17 request #12"):
    with db.transaction() as session:
        return privacy.erase(session, subject=privacy.Subject.parse(msisdn=NATIONAL, email=None), reason=reason,
                             actor="staff:dpo", key=settings.key("privacy"), close_line=close_line, now=now())


def money_state(db) -> dict:
    with db.transaction(write=False) as session:
        return {"balances": dict(session.execute(select(Account.code, Account.balance_minor)).all()),
                "entries": session.scalar(select(func.count()).select_from(JournalEntry)),
                "postings": session.scalar(select(func.count()).select_from(Posting)),
                "receipts": session.execute(select(Receipt.number, Receipt.amount_minor).order_by(Receipt.number)).all()}


def test_an_erased_subscriber_leaves_nothing_personal_in_any_table_or_log(db, settings, cli):
    with capture_logs() as logs:
        subscriber = make_subscriber(db, settings)
        assert where_found(db) == STORED  # the walk sees everything the fixture stored about the person
        before = money_state(db)
        result = erase(db, settings, close_line=True, reason=f"asked by {MSISDN} ({EMAIL})")
    assert result.line_ids == [subscriber.line_id] and (result.already, result.closed) == (0, 1)

    assert where_found(db) == []
    assert not [entry for entry in logs if any(n in json.dumps(entry, default=str).lower() for n in NEEDLES)]
    after = money_state(db)
    # Only the closure's forfeit moved money: one entry, the balance to breakage; receipts are all there.
    assert after["receipts"] == before["receipts"] and after["entries"] == before["entries"] + 1
    with db.transaction(write=False) as session:
        assert ledger.verify(session).problems == []
        line = session.get(Line, subscriber.line_id)
        assert (line.state, line.email, line.msisdn) == (DEACTIVATED, None, privacy.pseudonym(
            settings.key("privacy"), subscriber.line_id))
        assert session.scalars(select(ReceiptPdf)).all() == []
        assert session.scalars(select(NetworkNumber.msisdn)).all() == [MSISDN]
        [audit] = session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.erase")).all()
        assert (audit.subject_type, audit.subject_id, audit.actor, audit.details) == (
            "line", str(subscriber.line_id), "staff:dpo", {"pseudonym": line.msisdn, "closed_line": True})
        assert audit.reason == f"asked by {line.msisdn} ({line.msisdn})"
        # Messages to the subscriber not sent yet are not sent any more.
        assert session.scalars(select(OutboxMessage.id).where(
            OutboxMessage.line_id == subscriber.line_id, OutboxMessage.status == "pending",
            OutboxMessage.channel.in_(("sms", "email", "ussd")))).all() == []
    assert "balanced" in cli("ledger", "verify")

    # Twice is once: nothing more found, nothing more written.
    again = snapshot(db)
    assert erase(db, settings) == privacy.ErasureResult(line_ids=[], already=0, closed=0)
    assert snapshot(db) == again


def test_a_line_in_service_is_refused_and_nothing_moves(db, settings):
    make_subscriber(db, settings)
    before = snapshot(db)
    with pytest.raises(privacy.LineInService) as refused:
        erase(db, settings)
    assert (refused.value.code, refused.value.status) == ("line_in_service", 409)
    assert snapshot(db) == before
    with db.transaction(write=False) as session:
        assert session.scalars(select(Line.state)).all() == [ACTIVE]


def test_closing_the_line_ends_service_forfeits_the_balance_and_tells_the_network(db, settings):
    subscriber = make_subscriber(db, settings)
    with db.transaction(write=False) as session:
        line = session.get(Line, subscriber.line_id)
        held = ledger.balances(session, [line.credit_account_id, line.bonus_account_id])
    assert held[line.credit_account_id] > 0
    erase(db, settings, close_line=True)
    with db.transaction(write=False) as session:
        line = session.get(Line, subscriber.line_id)
        assert ledger.balances(session, [line.credit_account_id, line.bonus_account_id]) == {
            line.credit_account_id: 0, line.bonus_account_id: 0}
        [event] = session.scalars(select(LineEvent).where(LineEvent.line_id == line.id, LineEvent.reason == "closed"))
        assert (event.from_state, event.to_state) == (ACTIVE, DEACTIVATED)
        [forfeit] = session.scalars(select(JournalEntry).where(JournalEntry.reference == f"forfeit:{line.id}:closed"))
        assert forfeit.kind == "forfeit"
        [erasure] = session.scalars(select(Erasure))
        assert (erasure.line_id, erasure.closed_line, erasure.erased_by) == (line.id, True, "staff:dpo")


def test_a_former_subscriber_whose_number_has_a_new_holder_is_erased_by_line_id(db, settings, cli):
    old = make_line(db, now=T0)
    top_up(db, now=T0)
    with db.transaction() as session:  # the number went back to the pool long ago (what the sweep ends with)
        session.execute(update(Line).where(Line.id == old.id).values(state=AVAILABLE, next_sweep_at=None))
    new = make_line(db, now=T0 + timedelta(days=200))
    top_up(db, now=T0 + timedelta(days=200))
    # By number, the new holder's line in service is found too: refused, nothing changes.
    assert "line_in_service" in cli("privacy", "erase", "--msisdn", MSISDN, "--reason", "request #13", code=1)
    assert f"line {old.id} erased" in cli("privacy", "erase", "--line", str(old.id), "--reason", "request #13")
    with db.transaction(write=False) as session:
        holders = dict(session.execute(select(Line.id, Line.msisdn)).all())
        topups = dict(session.execute(select(TopUp.line_id, TopUp.msisdn)).all())
    assert holders == {old.id: privacy.pseudonym(settings.key("privacy"), old.id), new.id: MSISDN}
    assert topups == holders
