"""Personal-data rights: an access request's archive, and the erasure of a former subscriber.

Erasure keeps what the law keeps — the ledger, receipts, top-ups and payments (ten years for accounting documents
in France, Code de commerce L123-22) — with a pseudonym in the number's place, and removes or blanks everything
else that names the person (privacy/repository.py lists where). One transaction, one audit row per line; the audit
row names the line's id and the pseudonym, never the number or the e-mail."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import structlog
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.catalog import service as catalog
from simkeep.core.errors import Conflict, InvalidInput
from simkeep.core.ids import new_id
from simkeep.core.phone import lookup_msisdn, written_forms
from simkeep.lifecycle import service as lifecycle
from simkeep.line.models import RENEWABLE, Line
from simkeep.locale import languages
from simkeep.privacy import repository
from simkeep.privacy.repository import Identity
from simkeep.receipt import pdf
from simkeep.receipt import service as receipts
from simkeep.receipt.models import Receipt

log = structlog.get_logger()
PSEUDONYM_PREFIX = "x"  # no E.164 number starts with a letter: a pseudonym is never a number anyone can be given


def N_(message: str) -> str:  # marks a message for extraction, like web.pages.N_
    return message


class SubjectMissing(InvalidInput):
    code, message = "privacy_subject_missing", "Give the number or the e-mail address the request is about."


class ReasonMissing(InvalidInput):
    code, message = "privacy_reason_missing", "Give the reason (the request's reference) for the audit log."


class LineInService(Conflict):
    code, message = ("line_in_service", "This number's line is still in service: its subscriber is not a former "
                     "subscriber. Close the line first (--close-line, or tick 'close the line') to erase it.")


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a request is about: a number (E.164) and/or an e-mail address, or one line by its id (a former
    subscriber whose number has a new holder since: the number alone would find the new holder's line too)."""

    msisdn: str | None
    email: str | None
    line_id: uuid.UUID | None = None

    @classmethod
    def parse(cls, *, msisdn: str | None, email: str | None, line_id: str | None = None,
              region: str = "FR") -> Subject:
        msisdn, email, line = (msisdn or "").strip() or None, (email or "").strip() or None, (line_id or "").strip()
        if line:
            try:
                return cls(msisdn=None, email=None, line_id=uuid.UUID(line))
            except ValueError:
                raise InvalidInput("This is not a line id.") from None
        if not msisdn and not email:
            raise SubjectMissing()
        if email is not None and ("@" not in email or len(email) > 254):
            raise InvalidInput("This is not an e-mail address.")
        return cls(msisdn=lookup_msisdn(msisdn, region) if msisdn else None, email=email)


def _lines(session: Session, subject: Subject, *, lock: bool = False) -> list[Line]:
    return repository.lines_for(session, msisdn=subject.msisdn, email=subject.email, line_id=subject.line_id,
                                lock=lock)


@dataclass(frozen=True, slots=True)
class ErasureResult:
    line_ids: list[uuid.UUID]  # the lines erased now
    already: int  # lines found that an earlier erasure had done
    closed: int  # lines that were in service and were closed first


def pseudonym(key: str, line_id: uuid.UUID) -> str:
    """16 characters (lines.msisdn's width): a letter and 60 bits of a keyed hash of the line's id. The same line
    always gets the same one (erasure is repeatable); without the key nobody can tell which line it was."""
    return PSEUDONYM_PREFIX + hmac.new(key.encode(), line_id.bytes, hashlib.sha256).hexdigest()[:15]


def _identity(session: Session, line: Line, key: str) -> Identity:
    return Identity(line_id=line.id, msisdn=line.msisdn, forms=written_forms(line.msisdn), email=line.email,
                    pseudonym=pseudonym(key, line.id), tenure=repository.tenure(session, line))


def preview(session: Session, subject: Subject) -> list[Line]:
    """The lines a request about `subject` covers, oldest first (what the erase form asks to confirm)."""
    return _lines(session, subject)


def erase(session: Session, *, subject: Subject, reason: str, actor: str, key: str, close_line: bool = False,
          now: datetime) -> ErasureResult:
    """Erase the personal data of every line of `subject` that is no longer in service. A line still in service is
    refused (LineInService, nothing changed) unless `close_line`: then its service ends first (lifecycle.close_line:
    deactivated, its balance forfeited, the network told). Repeating it finds nothing more to do."""
    if not reason.strip():
        raise ReasonMissing()
    found = _lines(session, subject, lock=True)
    in_service = [line for line in found if line.state in RENEWABLE]
    if in_service and not close_line:
        raise LineInService()
    closed = {line.id for line in in_service if lifecycle.close_line(session, msisdn=line.msisdn, now=now)}
    done = repository.erased_lines(session, (line.id for line in found))
    erased = []
    for line in _lines(session, subject):
        if line.id in done:
            continue
        identity = _identity(session, line, key)
        repository.erase_line_rows(session, identity, now=now)
        repository.record_erasure(session, id=new_id(), line_id=line.id, pseudonym=identity.pseudonym,
                                  closed_line=line.id in closed, erased_by=actor[:80], erased_at=now)
        # The reason is free text: whatever of the person it quotes is replaced too, the audit log stays clean.
        audit.record(session, actor=actor, action="privacy.erase", subject_type="line", subject_id=str(line.id),
                     reason=repository.scrub(reason, identity), now=now,
                     details={"pseudonym": identity.pseudonym, "closed_line": line.id in closed})
        erased.append(line.id)
    log.info("privacy.erased", lines=[str(i) for i in erased], already=len(done), closed=len(closed))
    return ErasureResult(line_ids=erased, already=len(done), closed=len(closed))


def erasures(session: Session, *, limit: int = 100):
    return repository.list_erasures(session, limit=limit)


# --- Access requests -------------------------------------------------------------------------------------------

# What README.txt says about each file, in the subscriber's language.
FILES = {
    "line.json": N_("Your line(s): number, operator, state, validity dates, language, e-mail, every state change, "
                    "and what the network holds for it (SIM card, provisioning state)."),
    "topups.json": N_("Every top-up of the line with its channel, recharge cards redeemed and mistyped, and sales "
                      "at a store's counter."),
    "payments.json": N_("Payments (card, wallet, bank transfer) with their outcome, refunds, and charges made to "
                        "the balance."),
    "receipts.json": N_("Your receipts; the folder receipts/ has each one as a PDF."),
    "messages.json": N_("Messages sent to you (SMS, e-mail) with their delivery reports, and the SMS you sent us."),
    "calls_and_ussd.json": N_("Calls to the voice menu with the steps you went through, and USSD sessions."),
    "id_checks.json": N_("ID checks made at a store's counter: document type, country and its last four characters "
                         "only (kept for a short period, then deleted)."),
    "plans.json": N_("Your keep-my-number plans, auto-renew settings and charges, and saved payment methods (only "
                     "the provider's references and a label such as 'Visa •••• 4242')."),
    "promotions.json": N_("Price quotes, promotions applied to your top-ups, and cashback."),
    "sign_in.json": N_("Sign-in codes sent by SMS (when, not the code), wrong codes typed, and web sessions of the "
                       "customer portal."),
}
README_INTRO = N_("This archive holds every piece of personal data simkeep keeps about you, as of %(date)s. Each "
                  "file is JSON (times in UTC, amounts in minor units of the currency, such as cents). Files:")


@dataclass(frozen=True, slots=True)
class Archive:
    content: bytes
    filename: str
    lines: int


def _json_default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(type(value).__name__)


def export(session: Session, *, subject: Subject, reason: str, actor: str, receipt_key: str, base_url: str,
           now: datetime, pdfs: bool = True) -> Archive:
    """One ZIP for an access request: a JSON document per domain, README.txt in the subscriber's language, and the
    receipts as PDFs (`pdfs=False`: without them). Audited (one row per line covered). A subject with no line gets
    the same files, empty."""
    if not reason.strip():
        raise ReasonMissing()
    found = _lines(session, subject)
    ids = [line.id for line in found]
    identities = [Identity(line_id=line.id, msisdn=line.msisdn, forms=written_forms(line.msisdn), email=line.email,
                           pseudonym="", tenure=repository.tenure(session, line)) for line in found]
    language = found[-1].language if found else "en"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", _readme(language, now))
        for name, sections in repository.export_sections(ids, identities).items():
            document = {section: repository.export_rows(session, *query) if ids else []
                        for section, query in sections.items()}
            archive.writestr(name, json.dumps(document, default=_json_default, ensure_ascii=False, indent=2))
        for receipt in _receipts(session, ids) if pdfs else []:
            archive.writestr(f"receipts/{receipt.number}.pdf", _receipt_pdf(session, receipt, receipt_key, base_url))
    for line_id in ids:
        audit.record(session, actor=actor, action="privacy.export", subject_type="line", subject_id=str(line_id),
                     reason=reason, now=now)
    log.info("privacy.exported", lines=[str(i) for i in ids])
    return Archive(buffer.getvalue(), f"simkeep-personal-data-{now:%Y%m%d-%H%M%S}.zip", len(ids))


def _readme(language: str, now: datetime) -> str:
    text = [languages.gettext(language, README_INTRO) % {"date": now.date().isoformat()}, ""]
    text += [f"- {name}: {languages.gettext(language, about)}" for name, about in FILES.items()]
    return "\n".join(text) + "\n"


def _receipts(session: Session, ids: list[uuid.UUID]) -> list[Receipt]:
    return [receipt for line_id in ids for receipt in receipts.for_line(session, line_id, limit=10_000)]


def _receipt_pdf(session: Session, receipt: Receipt, key: str, base_url: str) -> bytes:
    operator = catalog.get_operator(session, receipt.operator_id)
    offer = catalog.get_offer(session, receipt.offer_id, operator)
    verify_url = f"{base_url}/receipts/{receipts.token_for(key, receipt.id)}"
    return pdf.render_pdf(receipt, operator, validity_days=offer.validity_days, verify_url=verify_url,
                          language=receipt.language)
