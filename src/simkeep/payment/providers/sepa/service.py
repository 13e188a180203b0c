"""Bank transfers: importing camt.053 statements and matching credits to orders by their RF reference.

An entry is matched only when its reference names a pending bank-transfer order of the SEPA provider and the
amount and currency are exactly the order's; the match is handed to the payment inbox as a provider event, so the
worker credits it on the same path as any webhook, once. Everything else waits for a person ("review"): nothing
is credited, nothing is refunded. Importing a statement again changes nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.core.errors import Conflict, NotFound
from simkeep.core.ids import new_id
from simkeep.core.money import Money
from simkeep.payment import service as payments
from simkeep.payment.models import PENDING, SUCCEEDED
from simkeep.payment.models import REVIEW as PAYMENT_REVIEW
from simkeep.payment.providers.base import SUCCEEDED as EVENT_SUCCEEDED
from simkeep.payment.providers.base import ProviderEvent
from simkeep.payment.providers.sepa import camt, repository
from simkeep.payment.providers.sepa.models import BankEntry

PROVIDER = "sepa"
METHOD = "bank_transfer"
MATCHED, REVIEW, SETTLED = "matched", "review", "settled"
STATUSES = (MATCHED, REVIEW, SETTLED)
MAX_ENTRY_REF = 75  # the inbox event id "camt:<entry ref>" must fit in 80 characters


class EntryNotFound(NotFound):
    code, message = "bank_entry_not_found", "No such bank entry."


class EntryNotInReview(Conflict):
    code, message = "bank_entry_not_in_review", "Only an entry waiting for review can be settled."


@dataclass
class ImportResult:
    file_sha256: str
    imported: list[str] = field(default_factory=list)  # statement ids read now
    already_imported: list[str] = field(default_factory=list)  # statement ids imported before: left untouched
    new: int = 0  # entries stored now (matched + review)
    duplicate: int = 0  # entries a previous statement already brought
    matched: int = 0
    review: int = 0
    ignored: int = 0  # debits and entries not booked

    @property
    def nothing_new(self) -> bool:
        return not self.imported

    def summary(self) -> str:
        if self.nothing_new:
            return "already imported: nothing changed"
        return (f"{self.new} new ({self.matched} matched, {self.review} to review), {self.duplicate} already known, "
                f"{self.ignored} ignored")


def parse(data: bytes) -> tuple[camt.Document, str]:
    """The statement and the file's SHA-256; raises CamtError with a clear message for anything unreadable."""
    return camt.parse(data), hashlib.sha256(data).hexdigest()


def import_statement(session: Session, *, data: bytes, now: datetime,
                     on_entry: Callable[[], None] | None = None) -> ImportResult:
    document, sha256 = parse(data)
    return import_document(session, document=document, sha256=sha256, now=now, on_entry=on_entry)


def import_document(session: Session, *, document: camt.Document, sha256: str, now: datetime,
                    on_entry: Callable[[], None] | None = None) -> ImportResult:
    result = ImportResult(file_sha256=sha256)
    for iban in sorted({s.account_iban for s in document.statements}):
        repository.lock_account(session, iban)
    if repository.file_known(session, sha256):
        result.already_imported = [s.statement_id for s in document.statements]
        return result
    for index, statement in enumerate(document.statements):
        statement_row = new_id()
        # One file may hold several statements; each row needs its own value in the unique file_sha256 column.
        file_key = sha256 if index == 0 else hashlib.sha256(f"{sha256}:{index}".encode()).hexdigest()
        if not repository.add_statement(session, id=statement_row, file_sha256=file_key,
                                        account_iban=statement.account_iban, statement_id=statement.statement_id,
                                        imported_at=now):
            result.already_imported.append(statement.statement_id)
            continue
        result.imported.append(statement.statement_id)
        result.ignored += statement.ignored
        for entry in statement.entries:
            outcome = _import_entry(session, entry, statement=statement, statement_row=statement_row, now=now)
            if outcome is None:
                result.duplicate += 1
            else:
                result.new += 1
                result.matched += outcome == MATCHED
                result.review += outcome == REVIEW
            if on_entry is not None:
                on_entry()
    return result


def _import_entry(session: Session, entry: camt.Entry, *, statement: camt.Statement, statement_row: uuid.UUID,
                  now: datetime) -> str | None:
    """MATCHED or REVIEW for a new entry, None for one a previous statement already brought."""
    iban = statement.account_iban
    entry_ref, note = entry.entry_ref, None
    earlier = repository.entries_with_ref(session, iban, entry.entry_ref)
    if earlier:
        if any((e.booked_on, e.amount_minor, e.currency) == (entry.booked_on, entry.amount_minor, entry.currency)
               for e in earlier):
            return None
        # The bank used this reference for a different credit: keep both, never drop money silently.
        entry_ref = _another_ref(entry.entry_ref, statement.statement_id, {e.entry_ref for e in earlier})
        note = f"the bank reused entry reference {entry.entry_ref} for a different credit"
    status, attempt_id, why, hold = _decide(session, entry)
    row: dict[str, Any] = dict(id=new_id(), statement_id=statement_row, account_iban=iban, entry_ref=entry_ref,
               booked_on=entry.booked_on, amount_minor=entry.amount_minor, currency=entry.currency,
               reference=entry.reference, debtor=entry.debtor, status=status, attempt_id=attempt_id,
               note=("; ".join(n for n in (why, note) if n) or None), created_at=now)
    if row["note"]:
        row["note"] = row["note"][:200]
    if not repository.add_entry(session, **row):
        return None  # a concurrent import stored it first (it waited on the unique key)
    if hold and attempt_id is not None:
        # Money arrived for this order but not as ordered: the order waits for a person too, so the payer reads
        # "we received your payment and are checking it" and staff can credit or dismiss it in the review queue.
        payments.hold_for_review(session, attempt_id, reason="bank_transfer", detail=f"{entry_ref}: {why}", now=now)
    if status == MATCHED and entry.reference is not None:
        event = ProviderEvent(event_id=f"camt:{entry_ref}", type=EVENT_SUCCEEDED, payment_ref=entry.reference,
                              amount_minor=entry.amount_minor, currency=entry.currency,
                              raw={"source": "camt.053", "account_iban": iban, "statement_id": statement.statement_id,
                                   "entry_ref": entry_ref, "booked_on": entry.booked_on.isoformat(),
                                   "debtor": entry.debtor, **entry.details})
        if not payments.store_event(session, provider=PROVIDER, event=event, now=now):
            repository.change_entry(session, row["id"], status=REVIEW,
                                    note="a payment event for this entry exists already: check by hand")
            return REVIEW
    return status


def _another_ref(entry_ref: str, statement_id: str, taken: set[str]) -> str:
    """"ref@statement" (with the statement id hashed when it would not fit), "#2", "#3"... if that is taken too."""
    suffix = f"@{statement_id}"
    if len(entry_ref) + len(suffix) + 4 > MAX_ENTRY_REF:
        suffix = f"@{hashlib.sha256(statement_id.encode()).hexdigest()[:12]}"
    return next(ref for n in range(1, 1000) if (ref := entry_ref + suffix + (f"#{n}" if n > 1 else "")) not in taken)


def _decide(session: Session, entry: camt.Entry) -> tuple[str, uuid.UUID | None, str | None, bool]:
    """(status, attempt id, note, whether the order goes to review too). Only an exact payment of a pending order
    is matched; an order that received money otherwise is held for review, an order already paid is left alone."""
    if entry.reversal:
        return REVIEW, None, "reversal of an earlier debit, not a payment", False
    if entry.note:
        return REVIEW, None, entry.note, False
    if entry.reference is None:
        return REVIEW, None, "no payment reference", False
    if not entry.reference_valid:
        return REVIEW, None, f"reference {entry.reference} is not a valid RF creditor reference", False
    attempt = repository.attempt_for_reference(session, PROVIDER, entry.reference)
    if attempt is None:
        return REVIEW, None, f"no order has reference {entry.reference}", False
    received = _money(entry.amount_minor, entry.currency)
    expected = _money(attempt.amount_minor, attempt.currency)
    if attempt.method != METHOD:
        return REVIEW, attempt.id, f"the reference belongs to a {attempt.method} payment", False
    if attempt.status == SUCCEEDED or repository.matched_entry_for(session, attempt.id) is not None:
        return REVIEW, attempt.id, f"order already paid: {received} received again", False
    if attempt.status == PAYMENT_REVIEW:
        return REVIEW, attempt.id, f"order already in review: {received} received", False
    if attempt.status != PENDING:
        return REVIEW, attempt.id, f"order is {attempt.status}, not awaiting payment: {received} received", True
    if entry.currency != attempt.currency:
        return REVIEW, attempt.id, f"paid {received}, the order is {expected}", True
    if entry.amount_minor < attempt.amount_minor:
        return REVIEW, attempt.id, f"under-paid: {received} received, {expected} due", True
    if entry.amount_minor > attempt.amount_minor:
        return REVIEW, attempt.id, f"over-paid: {received} received, {expected} due", True
    return MATCHED, attempt.id, None, False


def _money(minor: int, currency: str) -> str:
    """"10.00 EUR": unambiguous in a note ("$" could be any dollar)."""
    return f"{Money(minor, currency).as_decimal()} {currency}"


def transfer_status(session: Session, *, reference: str) -> BankEntry | None:
    """The entry that paid the order with this reference, if a statement brought one."""
    return repository.matched_by_reference(session, reference)


def entries(session: Session, *, status: str | None = REVIEW, limit: int = 200) -> list[BankEntry]:
    return repository.entries(session, status=status, limit=limit)


def unmatched_totals(session: Session, *, booked_on: date | None = None) -> dict[str, tuple[int, int]]:
    """Money on the account that no order claimed yet (entries in review): {currency: (count, amount_minor)},
    for the daily reconciliation."""
    return repository.totals(session, status=REVIEW, booked_on=booked_on)


def settle(session: Session, *, entry_id, actor: str, reason: str, now: datetime) -> BankEntry:
    """Staff dealt with an entry in review (refunded it by outgoing transfer, credited it by hand, ...): record who
    and why in the audit log. Nothing is credited or refunded here."""
    try:
        key = uuid.UUID(str(entry_id))
    except ValueError:
        raise EntryNotFound() from None
    entry = repository.get_entry(session, key, for_update=True)
    if entry is None:
        raise EntryNotFound()
    if entry.status != REVIEW:
        raise EntryNotInReview()
    audit.record(session, actor=actor, action="bank_entry.settle", subject_type="bank_entry", subject_id=str(entry.id),
                 reason=reason, details={"entry_ref": entry.entry_ref, "amount_minor": entry.amount_minor,
                                         "currency": entry.currency, "reference": entry.reference,
                                         "note": entry.note}, now=now)
    repository.change_entry(session, entry.id, status=SETTLED)
    session.refresh(entry)
    return entry
