"""The data-protection officer's page: what simkeep keeps, for how long and why (privacy.retention's table, the one
the daily job runs), the erasures done, an access request's archive, and erasing a former subscriber after a
confirmation step that shows the lines it covers (privacy.service does the work)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.admin.access import StaffMember, allowed
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.core.phone import masked
from simkeep.line.models import RENEWABLE
from simkeep.privacy import retention
from simkeep.privacy import service as privacy
from simkeep.web.deps import Config, Db
from simkeep.web.pages import Csrf, Lang, error_text, reader_zone, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)
Reader = Annotated[StaffMember, Depends(allowed("privacy.read"))]
Eraser = Annotated[StaffMember, Depends(allowed("privacy.erase"))]
Notice = Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")]
MsisdnField = Annotated[str, Form(max_length=32)]
EmailField = Annotated[str, Form(max_length=254)]
ReasonField = Annotated[str, Form(max_length=500)]


@router.get("/privacy", response_class=HTMLResponse)
def privacy_page(request: Request, db: Db, lang: Lang, settings: Config, member: Reader, error: Notice = None,
                 done: Annotated[int | None, Query(ge=0, le=1000)] = None) -> Response:
    with db.transaction(write=False) as session:
        erasures = privacy.erasures(session, limit=100)
        runs = retention.last_runs(session)
    rules = [(rule, rule.days(settings), runs.get(rule.key)) for rule in retention.RULES]
    return render(request, "admin/privacy.html", staff=member.username, tz=reader_zone(request), rules=rules,
                  bases=retention.BASES, erasures=erasures, may_erase=member.may("privacy.erase"), done=done,
                  error=error_text(lang, error) if error else None)


@router.post("/privacy/export")
def export_archive(db: Db, settings: Config, member: Reader, msisdn: MsisdnField = "", email: EmailField = "",
                   reason: ReasonField = "", _csrf: None = Csrf) -> Response:
    """The access request's ZIP, as a download."""
    try:
        with db.transaction() as session:
            subject = privacy.Subject.parse(msisdn=msisdn, email=email, region=settings.default_region)
            archive = privacy.export(session, subject=subject, reason=reason, actor=member.actor, now=clock.now(),
                                     receipt_key=settings.key("receipt"), base_url=settings.base_url)
    except SimkeepError as exc:
        return redirect(f"/admin/privacy?error={exc.code}")
    return Response(archive.content, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{archive.filename}"'})


@router.post("/privacy/erase", response_class=HTMLResponse)
def erase(request: Request, db: Db, settings: Config, member: Eraser, msisdn: MsisdnField = "",
          email: EmailField = "", reason: ReasonField = "", close_line: Annotated[bool, Form()] = False,
          confirm: Annotated[bool, Form()] = False, _csrf: None = Csrf) -> Response:
    """First the confirmation (the lines it covers, and whether one is still in service); then, confirmed, the
    erasure in one transaction."""
    try:
        subject = privacy.Subject.parse(msisdn=msisdn, email=email, region=settings.default_region)
        if not confirm:
            with db.transaction(write=False) as session:
                found = privacy.preview(session, subject)
            lines = [(line.id, masked(line.msisdn), line.operator_id, line.state, line.state in RENEWABLE)
                     for line in found]
            return render(request, "admin/privacy_erase.html", staff=member.username, lines=lines, msisdn=msisdn,
                          email=email, reason=reason, in_service=any(line[4] for line in lines))
        with db.transaction() as session:
            result = privacy.erase(session, subject=subject, reason=reason, actor=member.actor, now=clock.now(),
                                   key=settings.key("privacy"), close_line=close_line)
    except SimkeepError as exc:
        return redirect(f"/admin/privacy?error={exc.code}")
    return redirect(f"/admin/privacy?done={len(result.line_ids)}")
