"""A line's timeline as the back office reads it: everything that happened to the line, newest first, from every
domain that keeps a record of it, paged by an exact (at, kind, id) cursor.

Each source reads its own domain through that domain's service, at or before the cursor's instant, newest first. A
source that fills its fetch may hold more rows at its oldest instant than it returned (some readers order by time
alone): the page then stops above that instant, and the next page starts there, so no item is skipped or repeated.
Domains above this one (the store's ID checks) pass their own sources in (`extra`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.charge import service as charges
from simkeep.core.errors import InvalidInput
from simkeep.line import service as lines
from simkeep.line.models import Line
from simkeep.network import service as netstate
from simkeep.notification import service as notifications
from simkeep.payment import service as payments
from simkeep.topup import service as topups
from simkeep.ussd import service as ussd
from simkeep.voice import service as calls
from simkeep.voucher import service as vouchers

# Every kind of item, in the order the filter chips show them.
TOPUP, VOUCHER, PAYMENT, REFUND, CHARGE, STATE = "topup", "voucher", "payment", "refund", "charge", "state"
MESSAGE, SMS_COMMAND, USSD, CALL = "message", "sms_command", "ussd", "call"
ID_CHECK, PROVISIONING, STAFF_ACTION, NOTE = "id_check", "provisioning", "staff_action", "note"
KINDS = (TOPUP, VOUCHER, PAYMENT, REFUND, CHARGE, STATE, MESSAGE, SMS_COMMAND, USSD, CALL, ID_CHECK, PROVISIONING,
         STAFF_ACTION, NOTE)
PEOPLE_CHANNELS = ("sms", "email")  # messages to the subscriber; events for the operator's systems are not shown
PAGE_SIZE = 50
_TICK = timedelta(microseconds=1)  # `< upto + 1 µs` is `<= upto` for readers whose bound is exclusive


class CursorInvalid(InvalidInput):
    code, message = "timeline_cursor_invalid", "This timeline link is not valid: start again from the newest item."


@dataclass(frozen=True, slots=True)
class Item:
    """One thing that happened: `row` is the domain's own record (its template reads it); `extra` what the page
    needs beside it (a voucher's serial, a message's delivery log)."""

    at: datetime
    kind: str
    id: str
    row: object
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[datetime, str, str]:
        return self.at, self.kind, self.id


@dataclass(frozen=True, slots=True)
class Cursor:
    at: datetime
    kind: str
    id: str

    def encode(self) -> str:
        return f"{self.at.isoformat()}~{self.kind}~{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            at_text, kind, item_id = text.split("~")
            at = datetime.fromisoformat(at_text)
        except ValueError:
            raise CursorInvalid() from None
        if at.tzinfo is None or kind not in KINDS or not item_id or len(item_id) > 80:
            raise CursorInvalid()
        return cls(at, kind, item_id)

    @property
    def key(self) -> tuple[datetime, str, str]:
        return self.at, self.kind, self.id


@dataclass(frozen=True, slots=True)
class Fetched:
    items: list[Item]
    floor: datetime | None  # the oldest instant read when the source filled its fetch (more may wait there)


# A source: (session, line, at or before this instant, at most this many rows) -> what it read.
Fetch = Callable[[Session, Line, "datetime | None", int], Fetched]


@dataclass(frozen=True, slots=True)
class Source:
    kinds: tuple[str, ...]
    fetch: Fetch


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Item]
    next: Cursor | None


def timeline(session: Session, line: Line, *, cursor: Cursor | None = None, limit: int = PAGE_SIZE,
             kinds: Iterable[str] = (), extra: Sequence[Source] = ()) -> Page:
    """The `limit` newest items older than `cursor` (of these `kinds` only, when given), and the cursor of the
    next page (None on the last)."""
    wanted = frozenset(kinds) & frozenset(KINDS)
    sources = [s for s in (*SOURCES, *extra) if not wanted or wanted.intersection(s.kinds)]
    upto = cursor.at if cursor else None
    sizes = [limit + 1] * len(sources)
    read: list[Fetched | None] = [None] * len(sources)
    while True:
        for i, source in enumerate(sources):
            if read[i] is None:
                read[i] = source.fetch(session, line, upto, sizes[i])
        fetched = [f for f in read if f is not None]
        items = sorted((item for f in fetched for item in f.items if not wanted or item.kind in wanted
                        if cursor is None or item.key < cursor.key), key=lambda item: item.key, reverse=True)
        floors = [f.floor for f in fetched if f.floor is not None]
        if not floors:
            return Page(items[:limit], Cursor(*items[limit - 1].key) if len(items) > limit else None)
        # Items above the highest floor are complete (every source returned all it has there).
        floor = max(floors)
        complete = [item for item in items if item.at > floor]
        if len(complete) >= limit:
            return Page(complete[:limit], Cursor(*complete[limit - 1].key))
        for i, f in enumerate(fetched):  # a source stopped at that floor holds the page back: read more of it
            if f.floor == floor:
                sizes[i], read[i] = sizes[i] * 2, None


def _fetched(rows: Sequence[Any], limit: int, at_of: Callable[[Any], datetime], items: list[Item]) -> Fetched:
    """What a source read; its floor when it filled the fetch."""
    return Fetched(items, at_of(rows[-1]) if len(rows) >= limit else None)


def _topups(session: Session, line: Line, upto: datetime | None, limit: int) -> Fetched:
    """Top-ups with their channel, and the recharge card each voucher top-up redeemed (same instant)."""
    rows = topups.for_line(session, line.id, before=upto + _TICK if upto else None, limit=limit)
    cards = {v.topup_id: v for v in vouchers.redeemed_for_topups(session, [t.id for t in rows])}
    items = []
    for t in rows:
        items.append(Item(t.created_at, TOPUP, str(t.id), t))
        if (card := cards.get(t.id)) is not None:
            items.append(Item(t.created_at, VOUCHER, str(card.serial), card))
    return _fetched(rows, limit, lambda t: t.created_at, items)


def _payments(session: Session, line: Line, upto: datetime | None, limit: int) -> Fetched:
    rows = payments.for_line(session, line.id, upto=upto, limit=limit)
    return _fetched(rows, limit, lambda a: a.created_at, [Item(a.created_at, PAYMENT, str(a.id), a) for a in rows])


def _refunds(session: Session, line: Line, upto: datetime | None, limit: int) -> Fetched:
    rows = payments.refunds_for_line(session, line.id, upto=upto, limit=limit)
    return _fetched(rows, limit, lambda r: r.created_at, [Item(r.created_at, REFUND, str(r.id), r) for r in rows])


def _charges(session: Session, line: Line, upto: datetime | None, limit: int) -> Fetched:
    rows = charges.for_line(session, line.id, before=upto + _TICK if upto else None, limit=limit)
    return _fetched(rows, limit, lambda c: c.created_at, [Item(c.created_at, CHARGE, str(c.id), c) for c in rows])


def _states(session: Session, line: Line, upto: datetime | None, limit: int) -> Fetched:
    rows = lines.events_upto(session, line.id, before=upto, limit=limit)
    return _fetched(rows, limit, lambda e: e.at, [Item(e.at, STATE, str(e.id), e) for e in rows])


def _messages(session: Session, line: Line, upto: datetime | None, limit: int) -> Fetched:
    """SMS and e-mails to the subscriber, each with its delivery receipt (DLR) on the row."""
    rows = notifications.for_line(session, line.id, before=upto + _TICK if upto else None, limit=limit)
    return _fetched(rows, limit, lambda m: m.created_at,
                    [Item(m.created_at, MESSAGE, str(m.id), m) for m in rows if m.channel in PEOPLE_CHANNELS])


def _inbound(session: Session, line: Line, upto: datetime | None, limit: int) -> Fetched:
    rows = notifications.inbound_for_line(session, line.id, before=upto + _TICK if upto else None, limit=limit)
    return _fetched(rows, limit, lambda m: m.received_at,
                    [Item(m.received_at, SMS_COMMAND, str(m.id), m) for m in rows])


def _ussd(session: Session, line: Line, upto: datetime | None, limit: int) -> Fetched:
    rows = ussd.sessions_for_line(session, line.id, before=upto + _TICK if upto else None, limit=limit)
    return _fetched(rows, limit, lambda s: s.started_at, [Item(s.started_at, USSD, str(s.id), s) for s in rows])


def _calls(session: Session, line: Line, upto: datetime | None, limit: int) -> Fetched:
    rows = calls.for_line(session, line.id, before=upto + _TICK if upto else None, limit=limit)
    return _fetched(rows, limit, lambda c: c.started_at, [Item(c.started_at, CALL, str(c.id), c) for c in rows])


def _provisioning(session: Session, line: Line, upto: datetime | None, limit: int) -> Fetched:
    rows = netstate.commands_for_line(session, line.id, upto=upto, limit=limit)
    return _fetched(rows, limit, lambda r: r[1].created_at,
                    [Item(c.created_at, PROVISIONING, str(command_id), c) for command_id, c in rows])


def staff_subjects(session: Session, line: Line) -> dict[str, list[str]]:
    """What staff actions about this line are filed under: the line, its payments and its top-ups."""
    return {"line": [str(line.id)],
            "payment_attempt": [str(i) for i in payments.attempt_ids_for_line(session, line.id)],
            "topup": [str(i) for i in topups.ids_for_line(session, line.id)]}


def _staff_actions(session: Session, line: Line, upto: datetime | None, limit: int) -> Fetched:
    rows = audit.for_subjects(session, staff_subjects(session, line), upto=upto, limit=limit)
    return _fetched(rows, limit, lambda e: e.at, [Item(e.at, STAFF_ACTION, str(e.id), e) for e in rows])


def _notes(session: Session, line: Line, upto: datetime | None, limit: int) -> Fetched:
    rows = lines.notes(session, line.id, before=upto, limit=limit)
    return _fetched(rows, limit, lambda n: n.at, [Item(n.at, NOTE, str(n.id), n) for n in rows])


SOURCES = (
    Source((TOPUP, VOUCHER), _topups), Source((PAYMENT,), _payments), Source((REFUND,), _refunds),
    Source((CHARGE,), _charges), Source((STATE,), _states), Source((MESSAGE,), _messages),
    Source((SMS_COMMAND,), _inbound), Source((USSD,), _ussd), Source((CALL,), _calls),
    Source((PROVISIONING,), _provisioning), Source((STAFF_ACTION,), _staff_actions), Source((NOTE,), _notes),
)

