"""The audit log: every staff action and money decision, with the person and the reason, in a hash chain.

`record` appends one entry whose hash covers its content and the previous entry's hash (see audit.chain), so an
entry changed, removed or slipped in afterwards breaks the chain at that point; `verify` walks the chain and names
the first entry where it breaks. The database refuses UPDATE and DELETE on audit_log (triggers, migration 0023);
the chain is what still tells when someone with the rights to drop those triggers did so.

Entries never hold a phone number, e-mail, name or ID number: subjects are ids (a line's UUID), details are
masked. That way an erasure of a subscriber's personal data never has to touch this log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, event
from sqlalchemy.orm import Session, SessionTransaction

from simkeep.audit import chain, repository
from simkeep.audit.models import AuditEntry
from simkeep.audit.redact import redact, redact_details
from simkeep.audit.repository import Filters
from simkeep.core.errors import InvalidInput
from simkeep.core.ids import new_id

__all__ = ["Break", "Filters", "Verdict", "export", "for_subject", "newest_first", "record", "verify"]
PAGE = 1000
PENDING = "simkeep.audit.pending"  # session.info: entries recorded, linked into the chain at commit


def record(session: Session, *, actor: str, action: str, subject_type: str, subject_id: str, reason: str,
           details: dict | None = None, now: datetime) -> None:
    """Append one entry to the chain when the caller's transaction commits (nothing if it rolls back, or if the
    savepoint it was recorded in rolls back).

    Lock order: the chain's lock must be the LAST lock a transaction takes. Callers record inside money
    transactions, after locking the line (or the account, the drawer...), and some go on locking rows after
    recording; if the chain were locked here, a transaction would wait for such a row while holding the chain,
    and a twin holding that row and waiting for the chain would deadlock with it. So the entry is only queued
    here; `_link_pending` takes the chain's lock in the commit itself, after every other row is written, and
    holds it for the commit alone. Read the entry back after the commit, not in the same transaction.

    Phone numbers and e-mail addresses in the reason and the details are masked (audit.redact): pass ids."""
    if not reason or not reason.strip():
        raise InvalidInput("A reason is required for the audit log.")
    entry: dict[str, Any] = dict(
        id=new_id(), actor=actor, action=action, subject_type=subject_type, subject_id=str(subject_id),
        reason=redact(reason.strip())[:500], details=chain.canonical_details(redact_details(details or {})), at=now)
    chain.serialise(**entry, seq=0, prev_hash=chain.GENESIS)  # NaN or a non-JSON detail fails here, not in the commit
    session.info.setdefault(PENDING, []).append((_current_transaction(session), entry))


def _current_transaction(session: Session) -> SessionTransaction:
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is None:  # nothing ran yet in this session: begin, as its first statement would
        session.connection()
        transaction = session.get_transaction()
    assert transaction is not None
    return transaction


@event.listens_for(Session, "before_commit")
def _link_pending(session: Session) -> None:
    """At the outermost commit: flush what the transaction changed (its row locks come first), lock the chain,
    and append the queued entries after its head."""
    if session.in_nested_transaction() or not session.info.get(PENDING):
        return
    pending = session.info.pop(PENDING)
    session.flush()
    repository.lock_chain(session)
    head = repository.head(session)
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, chain.GENESIS)
    rows = []
    for _transaction, entry in pending:
        row = {**entry, "seq": seq, "prev_hash": prev_hash}
        row["hash"] = chain.entry_hash(**row)
        rows.append(row)
        seq, prev_hash = seq + 1, row["hash"]
    repository.append(session, rows)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """Entries recorded in a transaction (or savepoint) that rolled back, or in one nested inside it, are dropped."""
    pending = session.info.get(PENDING)
    if pending:
        session.info[PENDING] = [(t, e) for t, e in pending if not _inside(t, previous_transaction)]


def _inside(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


def for_subject(session: Session, subject_type: str, subject_id: str) -> list[AuditEntry]:
    """A subject's entries in the order they were recorded."""
    return repository.for_subject(session, subject_type, str(subject_id))


def for_subjects(session: Session, subjects: dict[str, list[str]], *, upto: datetime | None = None,
                 limit: int = 50) -> list[AuditEntry]:
    """Entries about any of these subjects ({subject_type: [subject_id, ...]}) at or before `upto`, newest first:
    a line's timeline shows the staff actions on the line, its payments and its top-ups (ix_audit_log_subject)."""
    wanted = {kind: [str(i) for i in ids] for kind, ids in subjects.items() if ids}
    return repository.for_subjects(session, wanted, upto=upto, limit=limit) if wanted else []


def newest_first(session: Session, filters: Filters, *, before_seq: int | None = None,
                 limit: int = 50) -> list[AuditEntry]:
    """One page of matching entries, newest first; the next page starts before the last one's seq."""
    return repository.newest_first(session, filters, before_seq=before_seq, limit=limit)


def export(session: Session, filters: Filters) -> Iterator[Row[Any]]:
    """Every matching entry in chain order, streamed."""
    for page in repository.oldest_first(session, filters, page_size=PAGE):
        yield from page


@dataclass(frozen=True)
class Break:
    """Where the chain first breaks. `problem`: content_altered (the entry's hash does not match its content),
    previous_hash_mismatch (it does not follow the entry before it: that one was rewritten, replaced or slipped
    in), seq_gap (entries before it are missing), row_missing (the anchored head is gone: entries were removed
    from the end). The entry named is the first one found wrong (for row_missing, the last one left)."""

    problem: str
    seq: int | None
    id: uuid.UUID | None
    at: datetime | None
    expected: str  # the hash (or seq) the chain called for
    found: str  # what the entry holds


@dataclass(frozen=True)
class Verdict:
    entries: int
    head_seq: int | None
    head_hash: str | None
    broken: Break | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify(session: Session, *, expect_head: str | None = None,
           progress: Callable[[int], None] | None = None) -> Verdict:
    """Recompute the chain from the first entry, a page at a time, and stop at the first break. With
    `expect_head`, a head hash written down earlier must still be in the chain (removing entries from the end
    leaves a chain that is intact but shorter: only an anchor kept elsewhere shows it)."""
    entries, previous, anchor_seen = 0, None, expect_head is None
    for page in repository.oldest_first(session, Filters(), page_size=PAGE):
        for entry in page:
            broken = _check(entry, previous)
            if broken:
                return Verdict(entries, previous.seq if previous else None, previous.hash if previous else None,
                               broken)
            entries, previous = entries + 1, entry
            anchor_seen = anchor_seen or entry.hash == expect_head
        if progress:
            progress(len(page))
    head_seq, head_hash = (previous.seq, previous.hash) if previous else (None, None)
    if not anchor_seen:
        missing = Break("row_missing", head_seq, previous.id if previous else None,
                        previous.at if previous else None, expected=str(expect_head), found=str(head_hash or ""))
        return Verdict(entries, head_seq, head_hash, missing)
    return Verdict(entries, head_seq, head_hash, None)


def _check(entry: Row[Any], previous: Row[Any] | None) -> Break | None:
    expected_seq = previous.seq + 1 if previous else 1
    if entry.seq != expected_seq:
        return Break("seq_gap", entry.seq, entry.id, entry.at, expected=str(expected_seq), found=str(entry.seq))
    expected_prev = previous.hash if previous else chain.GENESIS
    if entry.prev_hash != expected_prev:
        return Break("previous_hash_mismatch", entry.seq, entry.id, entry.at, expected=expected_prev,
                     found=entry.prev_hash)
    recomputed = chain.entry_hash(seq=entry.seq, id=entry.id, at=entry.at, actor=entry.actor, action=entry.action,
                                  subject_type=entry.subject_type, subject_id=entry.subject_id, reason=entry.reason,
                                  details=entry.details, prev_hash=entry.prev_hash)
    if recomputed != entry.hash:
        return Break("content_altered", entry.seq, entry.id, entry.at, expected=recomputed, found=entry.hash)
    return None


def count(session: Session) -> int:
    return repository.count(session)
