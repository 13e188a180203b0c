"""The privacy domain's queries. Erasure must reach every table that holds a subscriber's data, so, unlike other
domains, this one writes other domains' rows: each statement below names the columns it blanks or pseudonymises,
and tests/privacy/test_erasure.py walks every text and JSON column of the schema to prove nothing is missed.

A subscriber's rows are found by their line (line_id, or a row that points at one of the line's rows), or, where a
table keeps only the number (sign-in codes, wrong voucher PINs, SMS received before the line was known), by the
number within the line's tenure: from its creation (unbounded for the number's first line) to the next line on
the number, so the next holder's rows stay theirs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import String, cast, delete, false, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from simkeep.audit.models import AuditEntry
from simkeep.charge.models import Charge
from simkeep.line.models import Line, LineEvent, LineNote
from simkeep.network.models import PENDING, SUPERSEDED, NetworkLine, ProvisioningCommand, Sim
from simkeep.notification.models import DeliveryAttempt, InboundMessage, OutboxMessage
from simkeep.otp.models import OtpChallenge, OtpFailure, OtpNumber
from simkeep.payment.models import InboxEvent, PaymentAttempt, Refund
from simkeep.payment.providers.sepa.models import BankEntry
from simkeep.plan.autorenew_models import AutoRenewCharge, AutoRenewSetting, SavedMethod
from simkeep.plan.models import KeepPlan
from simkeep.privacy.models import Erasure
from simkeep.promotion.models import CustomerCashback, PromotionUse, Quote
from simkeep.receipt.models import Receipt, ReceiptPdf
from simkeep.sandbox.models import SandboxPayment
from simkeep.session.models import WebSession
from simkeep.store.models import IdCheck, StoreSale
from simkeep.topup.models import TopUp
from simkeep.ussd.models import UssdSession
from simkeep.voice.http_models import VoiceHttpTurn
from simkeep.voice.models import VoiceCall, VoiceTurn
from simkeep.voucher.models import Voucher, VoucherFailure

# Messages that went to the subscriber: their bodies go (a pending one is not sent any more). Messages to the
# operator's own systems (events, webhooks) keep their place with the number replaced by the pseudonym.
SUBSCRIBER_CHANNELS = ("sms", "email", "ussd")
ERASED_ERROR = "erased: the subscriber's personal data was erased before delivery"


@dataclass(frozen=True, slots=True)
class Tenure:
    """When a line held its number: rows keyed only by the number count as the line's inside this span."""

    since: datetime | None  # None: the number's first line (its rows from before the line are its holder's too)
    until: datetime | None  # None: no later line on the number


@dataclass(frozen=True)
class Identity:
    """What identifies the subscriber of one line in stored text: the number in every form people and systems
    write it, and the e-mail address. `pseudonym` replaces them."""

    line_id: uuid.UUID
    msisdn: str
    forms: tuple[str, ...]  # E.164 first, then the digits alone, then the national form
    email: str | None
    pseudonym: str
    tenure: Tenure

    @property
    def needles(self) -> tuple[str, ...]:
        return (*self.forms, self.email) if self.email else self.forms

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("|".join(re.escape(n) for n in self.needles), re.IGNORECASE)


def lines_for(session: Session, *, msisdn: str | None, email: str | None, line_id: uuid.UUID | None = None,
              lock: bool = False) -> list[Line]:
    """Every line that ever had the number or the e-mail address (the e-mail compared case-blind), or the line
    `line_id`; oldest first."""
    wanted: list[ColumnElement[bool]] = [Line.id == line_id] if line_id is not None else []
    if msisdn:
        wanted.append(Line.msisdn == msisdn)
    if email:
        wanted.append(Line.email.is_not(None) & (Line.email.ilike(email.replace("\\", "\\\\").replace("%", "\\%")
                                                                  .replace("_", "\\_"), escape="\\")))
    if not wanted:
        return []
    query = select(Line).where(or_(*wanted)).order_by(Line.created_at, Line.id)
    if lock:
        query = query.with_for_update()
    return list(session.scalars(query.execution_options(populate_existing=True)))


def tenure(session: Session, line: Line) -> Tenure:
    earlier = session.scalar(select(Line.created_at).where(Line.msisdn == line.msisdn, Line.id != line.id,
                                                           Line.created_at <= line.created_at).limit(1))
    later = session.scalar(select(Line.created_at).where(Line.msisdn == line.msisdn, Line.created_at > line.created_at)
                           .order_by(Line.created_at).limit(1))
    return Tenure(since=line.created_at if earlier is not None else None, until=later)


def erased_lines(session: Session, line_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    ids = list(line_ids)
    return set(session.scalars(select(Erasure.line_id).where(Erasure.line_id.in_(ids)))) if ids else set()


def record_erasure(session: Session, **values) -> None:
    session.add(Erasure(**values))


def list_erasures(session: Session, *, limit: int) -> list[Erasure]:
    return list(session.scalars(select(Erasure).order_by(Erasure.erased_at.desc(), Erasure.id.desc()).limit(limit)))


def _within(column, span: Tenure) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = column.is_not(None)
    if span.since is not None:
        condition &= column >= span.since
    if span.until is not None:
        condition &= column < span.until
    return condition


def _mentions(column, needles: Iterable[str]) -> ColumnElement[bool]:
    """Text or JSON that contains any of `needles` (JSON as its text: the number is stored unescaped)."""
    text = cast(column, String)
    return or_(*(text.contains(needle, autoescape=True) for needle in needles))


def scrub(value, identity: Identity):
    """`value` (text or JSON) with every form of the number and the e-mail (in any case) replaced by the pseudonym."""
    if isinstance(value, str):
        return identity.pattern.sub(identity.pseudonym, value)
    if isinstance(value, dict):
        return {scrub(k, identity): scrub(v, identity) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, identity) for v in value]
    return value


def _rescrub(session: Session, table, where: ColumnElement[bool], columns: tuple[str, ...], identity: Identity) -> None:
    """Replace the identity in `columns` of the rows matching `where`, read and written back (portable JSON)."""
    keys = list(table.primary_key.columns)
    for row in session.execute(select(*keys, *(table.c[c] for c in columns)).where(where)).all():
        values = {c: scrub(getattr(row, c), identity) for c in columns}
        if any(values[c] != getattr(row, c) for c in columns):
            session.execute(update(table).where(*(k == row._mapping[k.name] for k in keys)).values(**values))


def erase_line_rows(session: Session, identity: Identity, *, now: datetime) -> None:
    """Remove or pseudonymise the subscriber's personal data of one line everywhere. Kept, with the pseudonym in
    the number's place: the line itself (its number is free for the pool once the pseudonym is in), and the
    accounting records the law keeps for ten years (top-ups, receipts, payments, charges, counter sales)."""
    line_id, p = identity.line_id, identity.pseudonym
    by_number = list(identity.forms)
    session.execute(update(Line.__table__).where(Line.id == line_id).values(msisdn=p, email=None))

    # Accounting records: kept, pseudonymised. Receipt PDFs are copies: deleted, re-rendered with the pseudonym.
    receipt_ids = select(Receipt.id).where(Receipt.line_id == line_id).scalar_subquery()
    session.execute(delete(ReceiptPdf).where(ReceiptPdf.receipt_id.in_(receipt_ids)))
    for model in (Receipt, TopUp, Charge, StoreSale, PaymentAttempt, CustomerCashback, NetworkLine):
        session.execute(update(model.__table__).where(model.line_id == line_id).values(msisdn=p))
    _rescrub(session, TopUp.__table__, TopUp.line_id == line_id, ("principal", "idempotency_key"), identity)
    _rescrub(session, Charge.__table__, Charge.line_id == line_id, ("principal", "idempotency_key"),
             identity)
    attempts = select(PaymentAttempt.id).where(PaymentAttempt.line_id == line_id).scalar_subquery()
    _rescrub(session, PaymentAttempt.__table__, PaymentAttempt.line_id == line_id,
             ("next_action", "checkout_key"), identity)
    session.execute(update(BankEntry.__table__).where(BankEntry.attempt_id.in_(attempts)).values(debtor=None))
    _rescrub(session, BankEntry.__table__, BankEntry.attempt_id.in_(attempts), ("reference", "note"),
             identity)
    session.execute(update(Quote.__table__).where(or_(Quote.line_id == line_id, (Quote.msisdn == identity.msisdn)
                                                      & _within(Quote.created_at, identity.tenure))).values(msisdn=p))
    topups = select(TopUp.id).where(TopUp.line_id == line_id).scalar_subquery()
    session.execute(update(Voucher.__table__).where(or_(
        Voucher.topup_id.in_(topups),
        (Voucher.redeemed_msisdn == identity.msisdn) & _within(Voucher.redeemed_at, identity.tenure),
    )).values(redeemed_msisdn=p))

    # The network's copy: commands sent keep their place in the sequence; one not sent that a later one replaces is
    # superseded now, as the sender would find it; the latest, for a line out of service, clears the IMSI with no
    # number at all.
    commands = ProvisioningCommand.__table__
    latest = select(func.max(ProvisioningCommand.seq)).where(ProvisioningCommand.line_id == line_id).scalar_subquery()
    session.execute(update(commands).where(ProvisioningCommand.line_id == line_id, ProvisioningCommand.status == PENDING,
                                           ProvisioningCommand.seq < latest).values(status=SUPERSEDED))
    session.execute(update(commands).where(ProvisioningCommand.line_id == line_id, ProvisioningCommand.msisdn.is_not(None),
                                           ProvisioningCommand.status != PENDING).values(msisdn=p))

    # Operational records: gone, or kept without the person.
    session.execute(delete(IdCheck).where(IdCheck.line_id == line_id))
    # Staff notes are free text about the person (append-only for staff; an erasure is the one exception).
    session.execute(delete(LineNote).where(LineNote.line_id == line_id))
    session.execute(delete(KeepPlan).where(KeepPlan.line_id == line_id))
    session.execute(update(SavedMethod.__table__).where(SavedMethod.line_id == line_id).values(
        customer_ref=None, method_ref="erased:" + cast(SavedMethod.id, String), label=""))
    session.execute(update(SavedMethod.__table__).where(SavedMethod.line_id == line_id,
                                                        SavedMethod.removed_at.is_(None)).values(removed_at=now))
    session.execute(update(AutoRenewSetting.__table__).where(AutoRenewSetting.line_id == line_id).values(
        enabled=False))
    _rescrub(session, AutoRenewSetting.__table__, AutoRenewSetting.line_id == line_id,
             ("changed_by",), identity)
    session.execute(delete(OtpChallenge).where(OtpChallenge.msisdn.in_(by_number),
                                               _within(OtpChallenge.created_at, identity.tenure)))
    session.execute(delete(OtpFailure).where(OtpFailure.msisdn.in_(by_number), _within(OtpFailure.at, identity.tenure)))
    session.execute(delete(OtpNumber).where(OtpNumber.msisdn.in_(by_number)))
    session.execute(delete(VoucherFailure).where(VoucherFailure.msisdn.in_(by_number),
                                                 _within(VoucherFailure.at, identity.tenure)))
    _erase_messages(session, identity)
    _erase_channels(session, identity)
    session.execute(delete(WebSession).where(WebSession.staff_id.is_(None), _mentions(WebSession.data,
                                                                                      identity.needles)))
    # What providers and the sandbox sent or were sent, found by what they say.
    for table, columns in ((InboxEvent.__table__, ("payload",)),
                           (SandboxPayment.__table__, ("description", "return_url"))):
        _rescrub(session, table, or_(*(_mentions(table.c[c], identity.needles) for c in columns)), columns,
                 identity)


def _erase_messages(session: Session, identity: Identity) -> None:
    line_id, p = identity.line_id, identity.pseudonym
    table = OutboxMessage.__table__
    mine = or_(OutboxMessage.line_id == line_id,
               OutboxMessage.recipient.in_(identity.needles) & _within(OutboxMessage.created_at, identity.tenure))
    to_subscriber = mine & OutboxMessage.channel.in_(SUBSCRIBER_CHANNELS)
    session.execute(update(table).where(to_subscriber, OutboxMessage.status == "pending")
                    .values(status="failed", last_error=ERASED_ERROR, locked_until=None))
    session.execute(update(table).where(to_subscriber).values(recipient=p, payload={}))
    _rescrub(session, table, mine, ("recipient", "payload", "dedup_key", "last_error"), identity)
    messages = select(OutboxMessage.id).where(mine).scalar_subquery()
    _rescrub(session, DeliveryAttempt.__table__, DeliveryAttempt.message_id.in_(messages),
             ("detail",), identity)
    inbound = InboundMessage.__table__
    session.execute(update(inbound).where(or_(
        InboundMessage.line_id == line_id,
        InboundMessage.sender.in_(identity.forms) & _within(InboundMessage.received_at, identity.tenure),
    )).values(sender=p, text=""))


def _erase_channels(session: Session, identity: Identity) -> None:
    line_id, p = identity.line_id, identity.pseudonym
    session.execute(update(UssdSession.__table__).where(or_(
        UssdSession.line_id == line_id,
        UssdSession.msisdn.in_(identity.forms) & _within(UssdSession.started_at, identity.tenure),
    )).values(msisdn=p))
    _rescrub(session, UssdSession.__table__, UssdSession.msisdn == p, ("open_key",), identity)
    calls = or_(VoiceCall.line_id == line_id,
                VoiceCall.caller.in_(identity.forms) & _within(VoiceCall.started_at, identity.tenure))
    call_rows = session.execute(select(VoiceCall.id, VoiceCall.call_id).where(calls)).all()
    if call_rows:
        session.execute(delete(VoiceTurn).where(VoiceTurn.call_id.in_([row.id for row in call_rows])))
        session.execute(delete(VoiceHttpTurn).where(VoiceHttpTurn.call_id.in_([row.call_id for row in call_rows])))
        session.execute(update(VoiceCall.__table__).where(VoiceCall.id.in_([row.id for row in call_rows]))
                        .values(caller=p, state={}))
        _rescrub(session, VoiceCall.__table__, VoiceCall.id.in_([row.id for row in call_rows]),
                 ("done", "called"), identity)


def audit_mentions(session: Session, identity: Identity) -> int:
    """Audit rows that name the subscriber: there must be none (the chained log is never rewritten)."""
    columns = (AuditEntry.actor, AuditEntry.subject_id, AuditEntry.reason, AuditEntry.details)
    return session.scalar(select(AuditEntry.id).where(or_(*(_mentions(c, identity.needles) for c in columns)))
                          .limit(1)) is not None


# What an access request gets: per file of the archive, per section, the rows of one table that are the subscriber's.
# Secrets are left out (hashes of sign-in codes, session tokens, PINs) and so are stored PDFs (the archive has them).
_NOT_EXPORTED = frozenset({"code_hash", "token_hash", "pin_hash", "request_hash", "content", "matching_id_sealed"})


def _of_lines(model, ids: list[uuid.UUID]) -> ColumnElement[bool]:
    return model.line_id.in_(ids)


def export_sections(ids: list[uuid.UUID], identities: list[Identity]) -> dict[str, dict[str, tuple]]:
    """{file: {section: (model, where, order columns)}} for the lines `ids` (their identities for number-only rows)."""
    def by_number(column, time_column) -> ColumnElement[bool]:
        return or_(false(), *(column.in_(i.forms) & _within(time_column, i.tenure) for i in identities))

    attempts = select(PaymentAttempt.id).where(PaymentAttempt.line_id.in_(ids)).scalar_subquery()
    messages = select(OutboxMessage.id).where(OutboxMessage.line_id.in_(ids)).scalar_subquery()
    calls = select(VoiceCall.id).where(_of_lines(VoiceCall, ids)).scalar_subquery()
    topups = select(TopUp.id).where(TopUp.line_id.in_(ids)).scalar_subquery()
    return {
        "line.json": {"lines": (Line, Line.id.in_(ids), (Line.created_at, Line.id)),
                      "state_changes": (LineEvent, _of_lines(LineEvent, ids), (LineEvent.at, LineEvent.id)),
                      "staff_notes": (LineNote, _of_lines(LineNote, ids), (LineNote.at, LineNote.id)),
                      "network": (NetworkLine, _of_lines(NetworkLine, ids), (NetworkLine.line_id,)),
                      "sim_cards": (Sim, _of_lines(Sim, ids), (Sim.state_changed_at, Sim.id))},
        "topups.json": {"topups": (TopUp, _of_lines(TopUp, ids), (TopUp.created_at, TopUp.id)),
                        "vouchers_redeemed": (Voucher, Voucher.topup_id.in_(topups), (Voucher.serial,)),
                        "voucher_failures": (VoucherFailure, by_number(VoucherFailure.msisdn, VoucherFailure.at),
                                             (VoucherFailure.at, VoucherFailure.id)),
                        "counter_sales": (StoreSale, _of_lines(StoreSale, ids), (StoreSale.created_at, StoreSale.id))},
        "payments.json": {"payment_attempts": (PaymentAttempt, _of_lines(PaymentAttempt, ids),
                                               (PaymentAttempt.created_at, PaymentAttempt.id)),
                          "refunds": (Refund, Refund.attempt_id.in_(attempts), (Refund.created_at, Refund.id)),
                          "bank_transfers": (BankEntry, BankEntry.attempt_id.in_(attempts),
                                             (BankEntry.created_at, BankEntry.id)),
                          "charges": (Charge, _of_lines(Charge, ids), (Charge.created_at, Charge.id))},
        "receipts.json": {"receipts": (Receipt, _of_lines(Receipt, ids), (Receipt.issued_at, Receipt.id))},
        "messages.json": {"sent": (OutboxMessage, _of_lines(OutboxMessage, ids),
                                   (OutboxMessage.created_at, OutboxMessage.id)),
                          "delivery_attempts": (DeliveryAttempt, DeliveryAttempt.message_id.in_(messages),
                                                (DeliveryAttempt.at, DeliveryAttempt.id)),
                          "received": (InboundMessage, or_(_of_lines(InboundMessage, ids),
                                                           by_number(InboundMessage.sender, InboundMessage.received_at)),
                                       (InboundMessage.received_at, InboundMessage.id))},
        "calls_and_ussd.json": {"calls": (VoiceCall, _of_lines(VoiceCall, ids), (VoiceCall.started_at, VoiceCall.id)),
                                "call_steps": (VoiceTurn, VoiceTurn.call_id.in_(calls), (VoiceTurn.call_id, VoiceTurn.seq)),
                                "ussd_sessions": (UssdSession, _of_lines(UssdSession, ids),
                                                  (UssdSession.started_at, UssdSession.id))},
        "id_checks.json": {"id_checks": (IdCheck, _of_lines(IdCheck, ids), (IdCheck.checked_at, IdCheck.id))},
        "plans.json": {"keep_plans": (KeepPlan, _of_lines(KeepPlan, ids), (KeepPlan.created_at, KeepPlan.id)),
                       "auto_renew": (AutoRenewSetting, _of_lines(AutoRenewSetting, ids), (AutoRenewSetting.line_id,)),
                       "auto_renew_charges": (AutoRenewCharge, _of_lines(AutoRenewCharge, ids),
                                              (AutoRenewCharge.created_at, AutoRenewCharge.id)),
                       "saved_payment_methods": (SavedMethod, _of_lines(SavedMethod, ids),
                                                 (SavedMethod.created_at, SavedMethod.id))},
        "promotions.json": {"quotes": (Quote, _of_lines(Quote, ids), (Quote.created_at, Quote.id)),
                            "promotions_used": (PromotionUse, _of_lines(PromotionUse, ids),
                                                (PromotionUse.created_at, PromotionUse.id)),
                            "cashback": (CustomerCashback, _of_lines(CustomerCashback, ids),
                                         (CustomerCashback.created_at, CustomerCashback.id))},
        "sign_in.json": {"sign_in_codes": (OtpChallenge, by_number(OtpChallenge.msisdn, OtpChallenge.created_at),
                                           (OtpChallenge.created_at, OtpChallenge.id)),
                         "wrong_codes": (OtpFailure, by_number(OtpFailure.msisdn, OtpFailure.at),
                                         (OtpFailure.at, OtpFailure.id)),
                         "web_sessions": (WebSession, WebSession.staff_id.is_(None)
                                          & or_(false(), *(_mentions(WebSession.data, i.needles) for i in identities)),
                                          (WebSession.created_at, WebSession.id))},
    }


def export_rows(session: Session, model, where: ColumnElement[bool], order: tuple) -> list[dict]:
    table = model.__table__
    columns = [c for c in table.columns if c.name not in _NOT_EXPORTED]
    return [dict(row._mapping) for row in session.execute(select(*columns).where(where).order_by(*order))]
