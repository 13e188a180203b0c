"""The audit log's back-office page (permission audit.read: admin, finance): entries newest first, filtered by
actor, action, subject and period, paged by seq; and a button that verifies the hash chain and says where it
breaks. Read-only: there is no form or route that changes or removes an entry (audit.service has none either)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.admin.access import StaffMember, allowed
from simkeep.audit import service as audit
from simkeep.audit.service import Filters, Verdict
from simkeep.core import clock
from simkeep.locale.languages import gettext
from simkeep.web.deps import Db
from simkeep.web.pages import N_, Csrf, Lang, reader_zone, render
from simkeep.web.params import calendar_day

router = APIRouter(prefix="/admin/audit", include_in_schema=False)
Reader = Annotated[StaffMember, Depends(allowed("audit.read"))]
Text = Annotated[str, Query(max_length=80)]
PAGE = 50
HEAD = re.compile(r"^[0-9a-f]{64}$")
TEXTS = {
    "day": N_("Write the days as YYYY-MM-DD, between 2000 and 2099."),
    "before": N_("This is not an entry number."),
    "head": N_("A head hash is 64 characters, digits and the letters a to f."),
}
# What verify found, in words a member of staff can act on (audit.service.Break names the kinds).
PROBLEMS = {
    "content_altered": N_("Entry %(seq)s was changed after it was written: its content no longer matches its hash."),
    "previous_hash_mismatch": N_("Entry %(seq)s does not follow the entry before it: that entry was rewritten, "
                                 "replaced or slipped in."),
    "seq_gap": N_("Entries are missing before entry %(seq)s: entry %(expected)s was expected."),
    "row_missing": N_("The head hash you gave is no longer in the chain: entries were removed from its end."),
}


@router.get("", response_class=HTMLResponse)
def audit_log(request: Request, db: Db, lang: Lang, member: Reader, actor: Text = "", action: Text = "",
              subject: Text = "", from_: Annotated[str, Query(alias="from", max_length=10)] = "",
              to: Annotated[str, Query(max_length=10)] = "",
              before: Annotated[str, Query(max_length=20)] = "") -> Response:
    return _page(request, db, lang, member, dict(actor=actor, action=action, subject=subject, from_=from_, to=to),
                 before=before)


@router.post("/verify", response_class=HTMLResponse)
def verify(request: Request, db: Db, lang: Lang, member: Reader,
           expect_head: Annotated[str, Form(max_length=200)] = "", _csrf: None = Csrf) -> Response:
    """Recompute the whole chain now (read-only; asking twice does no harm)."""
    expect_head = expect_head.strip().lower()
    if expect_head and not HEAD.match(expect_head):
        return _page(request, db, lang, member, {}, before="", status=422, error=gettext(lang, TEXTS["head"]),
                     expect_head=expect_head)
    with db.transaction(write=False) as session:
        verdict = audit.verify(session, expect_head=expect_head or None)
    return _page(request, db, lang, member, {}, before="", verdict=verdict, expect_head=expect_head)


def _page(request: Request, db: Db, lang: str, member: StaffMember, form: dict[str, str], *, before: str,
          status: int = 200, error: str | None = None, verdict: Verdict | None = None,
          expect_head: str = "") -> Response:
    tz = reader_zone(request)
    filters, problem = _filters(form, tz)
    cursor = int(before) if before.isdigit() and len(before) <= 18 else None
    if before and cursor is None:
        problem = problem or "before"
    if problem:
        status, error, filters, cursor = 422, gettext(lang, TEXTS[problem]), Filters(), None
    with db.transaction(write=False) as session:
        found = audit.newest_first(session, filters, before_seq=cursor, limit=PAGE + 1)
    return render(request, "admin/audit.html", status=status, entries=found[:PAGE],
                  older=found[PAGE - 1].seq if len(found) > PAGE else None, form=form, staff=member.username, tz=tz,
                  error=error, verdict=verdict, problem=_problem(lang, verdict), expect_head=expect_head)


def _filters(form: dict[str, str], tz: str) -> tuple[Filters, str | None]:
    """The filters as the service takes them; the period's days are the reader's, from the first day's start to
    the last one's end. Returns a problem's key instead when a day is not one."""
    days: list[date | None] = []
    for text in (form.get("from_", ""), form.get("to", "")):
        day = calendar_day(text) if text else None
        if text and day is None:
            return Filters(), "day"
        days.append(day)
    first, last = days
    return Filters(actor=form.get("actor", "").strip() or None, action=form.get("action", "").strip() or None,
                   subject=form.get("subject", "").strip() or None,
                   since=_start_of(first, tz) if first else None,
                   until=_start_of(last + timedelta(days=1), tz) if last else None), None


def _start_of(day: date, tz: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=clock.zone(tz))


def _problem(lang: str, verdict: Verdict | None) -> str | None:
    if verdict is None or verdict.broken is None:
        return None
    broken = verdict.broken
    return gettext(lang, PROBLEMS[broken.problem]) % {"seq": broken.seq, "expected": broken.expected}
