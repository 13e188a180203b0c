"""What simkeep keeps about people, for how long and why: one table that the daily `retention` job runs and
/admin/privacy shows, so what the page promises is what the job does.

A rule with a purge either deletes rows past their date or blanks the personal columns of rows that must stay
(a message's status and delivery receipt stay, its body goes). Work goes in batches of short transactions, so a
backlog never holds a long write lock; each rule logs how many rows it did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.notification.models import PENDING, InboundMessage, OutboxMessage
from simkeep.otp.models import OtpChallenge, OtpFailure, OtpNumber
from simkeep.privacy.models import RetentionRun
from simkeep.session.models import WebSession
from simkeep.store.models import IdCheck
from simkeep.voice.models import VoiceTurn
from simkeep.voucher.models import VoucherFailure

log = structlog.get_logger()
BATCH = 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def N_(message: str) -> str:  # marks a message for extraction, like web.pages.N_
    return message


# Legal bases (GDPR art. 6(1)) as the page names them.
CONTRACT, LEGAL, LEGITIMATE, CONSENT = "contract", "legal_obligation", "legitimate_interest", "consent"
BASES = {
    CONTRACT: N_("Contract (art. 6(1)(b)): needed to provide the prepaid line the subscriber signed up for."),
    LEGAL: N_("Legal obligation (art. 6(1)(c)): a law requires us to keep it."),
    LEGITIMATE: N_("Legitimate interest (art. 6(1)(f)): fraud prevention and security, weighed against the "
                   "subscriber's rights."),
    CONSENT: N_("Consent (art. 6(1)(a)): given by the subscriber, who may withdraw it at any time."),
}

Purge = Callable[[Database, "Rule", datetime, datetime, int, bool], int]  # (db, rule, cutoff, now, batch, dry run)


@dataclass(frozen=True)
class Rule:
    key: str
    what: str  # the data, for the page
    basis: str  # a key of BASES
    why: str  # why that long, for the page
    setting: str | None = None  # the Settings field giving the days; None: kept as `kept` says
    kept: str | None = None  # how long, for data no job purges (e.g. "10 years")
    purge: Purge | None = None

    def days(self, settings: Settings) -> int | None:
        return getattr(settings, self.setting) if self.setting else None


@dataclass(frozen=True)
class Outcome:
    rule: str
    days: int
    rows: int


# --- how rules purge ----------------------------------------------------------------------------------------------

def _delete_older(model, at_column, *extra) -> Purge:
    """Delete the rows whose `at_column` is before the cutoff, oldest first, `batch` per transaction."""
    def purge(db: Database, rule: Rule, cutoff: datetime, now: datetime, batch: int, dry_run: bool) -> int:
        where = (at_column < cutoff, *extra)
        if dry_run:
            with db.transaction(write=False) as session:
                return session.scalar(select(func.count()).select_from(model).where(*where)) or 0
        key = next(iter(model.__table__.primary_key.columns))
        total = 0
        while True:
            with db.transaction() as session:
                ids = list(session.scalars(select(key).where(*where).order_by(at_column, key).limit(batch)))
                if ids:
                    session.execute(delete(model).where(key.in_(ids)).execution_options(synchronize_session=False))
            total += len(ids)
            if len(ids) < batch:
                return total
    return purge


def _blank_older(model, at_column, values: dict, *extra) -> Purge:
    """Blank `values` in the rows whose `at_column` fell past the cutoff since the last run (retention_runs says
    how far that was), so each day reads only the day that has just come due."""
    def purge(db: Database, rule: Rule, cutoff: datetime, now: datetime, batch: int, dry_run: bool) -> int:
        with db.transaction(write=False) as session:
            since = session.scalar(select(RetentionRun.through_at).where(RetentionRun.rule == rule.key)) or EPOCH
        if since >= cutoff:
            return 0
        where = (at_column >= since, at_column < cutoff, *extra)
        if dry_run:
            with db.transaction(write=False) as session:
                return session.scalar(select(func.count()).select_from(model).where(*where)) or 0
        key = model.id
        total, after = 0, None
        while True:
            with db.transaction() as session:
                query = select(at_column, key).where(*where).order_by(at_column, key).limit(batch)
                if after is not None:
                    query = query.where((at_column > after[0]) | ((at_column == after[0]) & (key > after[1])))
                rows = session.execute(query).all()
                if rows:
                    session.execute(update(model).where(key.in_([r[1] for r in rows])).values(**values)
                                    .execution_options(synchronize_session=False))
                    after = tuple(rows[-1])
            total += len(rows)
            if len(rows) < batch:
                break
        with db.transaction() as session:
            _mark(session, rule.key, cutoff, now, total)
        return total
    return purge


def _mark(session: Session, rule: str, through: datetime, now: datetime, rows: int) -> None:
    run = session.get(RetentionRun, rule)
    if run is None:
        session.add(RetentionRun(rule=rule, through_at=through, ran_at=now, rows=rows))
    else:
        run.through_at, run.ran_at, run.rows = through, now, rows


def _sign_in_codes(db: Database, rule: Rule, cutoff: datetime, now: datetime, batch: int, dry_run: bool) -> int:
    return sum(purge(db, rule, cutoff, now, batch, dry_run) for purge in (
        _delete_older(OtpChallenge, OtpChallenge.expires_at), _delete_older(OtpFailure, OtpFailure.at),
        _delete_older(OtpNumber, OtpNumber.touched_at)))


# --- the table ------------------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule("id_checks", N_("ID checks at a store's counter (document type, issuing country, last four characters)"),
         LEGAL, N_("Proof that the subscriber's identity was checked when the line was sold or renewed at a counter; "
                   "a short period lets a dispute be answered, then it is deleted."),
         setting="id_check_retention_days", purge=_delete_older(IdCheck, IdCheck.checked_at)),
    Rule("sign_in_codes", N_("Sign-in codes (hashed) and wrong codes typed, per number"), LEGITIMATE,
         N_("Limits guessing of sign-in codes over 24 hours; a week shows an attack to whoever investigates it."),
         setting="retention_otp_days", purge=_sign_in_codes),
    Rule("voucher_failures", N_("Wrong recharge-card PINs typed, per number"), LEGITIMATE,
         N_("Locks out PIN guessing over 24 hours; a month lets staff investigate a series of attempts."),
         setting="retention_voucher_failure_days",
         purge=_delete_older(VoucherFailure, VoucherFailure.at)),
    Rule("message_bodies", N_("What each SMS and e-mail sent said (its details: amounts, links, dates)"), CONTRACT,
         N_("Customer care answers 'what did you send me' for a quarter; the message's date, status and delivery "
            "receipt stay as the record that it was sent."),
         setting="retention_message_body_days",
         purge=_blank_older(OutboxMessage, OutboxMessage.created_at, {"payload": {}}, OutboxMessage.status != PENDING)),
    Rule("inbound_texts", N_("Text of the SMS subscribers sent (commands; PINs already masked)"), CONTRACT,
         N_("Lets customer care see what was asked; the sender and what was done stay with the line."),
         setting="retention_inbound_text_days",
         purge=_blank_older(InboundMessage, InboundMessage.received_at, {"text": ""})),
    Rule("voice_turns", N_("Steps of calls to the voice menu (keys pressed, prompts heard)"), CONTRACT,
         N_("Answers a complaint about a call; the call itself (when, outcome) stays with the line."),
         setting="retention_voice_turn_days", purge=_delete_older(VoiceTurn, VoiceTurn.at)),
    Rule("web_sessions", N_("Customer portal and staff sessions (browser, address, what was being done)"), CONTRACT,
         N_("A session is only useful while it lasts; expired ones are deleted."),
         setting="retention_session_days",
         purge=_delete_older(WebSession, WebSession.expires_at)),
    Rule("accounting", N_("Top-ups, payments, refunds, receipts, counter sales and the ledger"), LEGAL,
         N_("Accounting documents are kept ten years (Code de commerce L123-22). An erased subscriber's are kept "
            "with a pseudonym in place of the number and no e-mail."), kept=N_("10 years")),
    Rule("lines", N_("The line: number, operator, language, e-mail, validity and state changes"), CONTRACT,
         N_("Needed while the line is in service and through its quarantine; a former subscriber may ask for "
            "erasure (the number is replaced by a pseudonym, the e-mail removed)."),
         kept=N_("until erased")),
    Rule("reminder_opt_out", N_("That the subscriber asked for no reminders (STOP)"), CONSENT,
         N_("Kept while the line exists, so reminders are never sent again against the subscriber's wish."),
         kept=N_("with the line")),
    Rule("audit_log", N_("The audit log of staff and money decisions (no personal data: lines by their id only)"),
         LEGAL, N_("Proves who decided what about money; a chain of hashes that is never rewritten."),
         kept=N_("10 years")),
)


def run(db: Database, settings: Settings, *, now: datetime, dry_run: bool = False, batch: int = BATCH
        ) -> list[Outcome]:
    """Every purging rule once: what is past its date is deleted or blanked (`dry_run`: only counted)."""
    outcomes = []
    for rule in RULES:
        days = rule.days(settings)
        if rule.purge is None or days is None:
            continue
        rows = rule.purge(db, rule, now - timedelta(days=days), now, batch, dry_run)
        log.info("privacy.retention", rule=rule.key, rows=rows, retention_days=days, dry_run=dry_run)
        outcomes.append(Outcome(rule.key, days, rows))
    return outcomes


def last_runs(session: Session) -> dict[str, RetentionRun]:
    return {run.rule: run for run in session.scalars(select(RetentionRun))}
