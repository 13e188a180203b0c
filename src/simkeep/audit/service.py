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

from sqlalchemy.orm import Session

from simkeep.audit import chain, repository
from simkeep.audit.models import AuditEntry
from simkeep.audit.repository import Filters
from simkeep.core.errors import InvalidInput
from simkeep.core.ids import new_id

__all__ = ["Break", "Filters", "Verdict", "export", "for_subject", "newest_first", "record", "verify"]
PAGE = 1000


def record(session: Session, *, actor: str, action: str, subject_type: str, subject_id: str, reason: str,
           details: dict | None = None, now: datetime) -> None:
    """Append one entry to the chain, in the caller's transaction.

    Lock order: the chain's lock must be the LAST lock a transaction takes. Callers record inside money
    transactions after locking the line (or account, drawer...); if one locked a row after recording, it would
    wait for that row while holding the chain, and a twin holding the row and waiting for the chain would
    deadlock with it. So record comes last in a service, and pending ORM changes are flushed (their row locks
    taken) before the chain's lock. The lock is held from here to commit, which follows at once."""
    if not reason or not reason.strip():
        raise InvalidInput("A reason is required for the audit log.")
    session.flush()
    repository.lock_chain(session)
    head = repository.head(session)
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, chain.GENESIS)
    entry = dict(id=new_id(), seq=seq, actor=actor, action=action, subject_type=subject_type,
                 subject_id=str(subject_id), reason=reason.strip()[:500],
                 details=chain.canonical_details(details or {}), at=now, prev_hash=prev_hash)
    repository.append(session, {**entry, "hash": chain.entry_hash(**entry)})


def for_subject(session: Session, subject_type: str, subject_id: str) -> list[AuditEntry]:
    """A subject's entries in the order they were recorded."""
    return repository.for_subject(session, subject_type, str(subject_id))


def newest_first(session: Session, filters: Filters, *, before_seq: int | None = None,
                 limit: int = 50) -> list[AuditEntry]:
    """One page of matching entries, newest first; the next page starts before the last one's seq."""
    return repository.newest_first(session, filters, before_seq=before_seq, limit=limit)


def export(session: Session, filters: Filters) -> Iterator[AuditEntry]:
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


def _check(entry: AuditEntry, previous: AuditEntry | None) -> Break | None:
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
