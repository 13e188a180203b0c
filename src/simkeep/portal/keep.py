"""Keep my number until DATE, in the portal: a date, the cheapest plan and the ways that never bar the line, and
one click to be reminded on the plan's days (or to hand the line over to auto-renew, in the plan's way)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.core import clock
from simkeep.core.errors import NoPlan, PlanDateInvalid, SimkeepError
from simkeep.plan import service
from simkeep.portal.params import PageRoute
from simkeep.web.deps import Db
from simkeep.web.pages import Csrf, reader, redirect, render, verified_numbers

router = APIRouter(include_in_schema=False, route_class=PageRoute)
AUTO_RENEW_PAGE = "/lines/auto-renew"


def _until(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/lines/keep", response_class=HTMLResponse)
def keep_page(request: Request, db: Db, msisdn: Annotated[str | None, Query(max_length=32)] = None,
              until: Annotated[str | None, Query(max_length=10)] = None,
              saved: Annotated[int | None, Query()] = None) -> Response:
    numbers = verified_numbers(request)
    if not numbers:
        return redirect("/signin?next=/lines/keep")
    number = msisdn if msisdn in numbers else numbers[0]
    now = clock.now()
    wanted = _until(until)
    found, error = None, None
    if until is not None:
        try:
            if wanted is None:
                raise PlanDateInvalid()
            with db.transaction(write=False) as session:
                found = service.plans_for(session, msisdn=number, until=wanted, now=now)
        except (PlanDateInvalid, NoPlan) as exc:
            error = exc.code
        except SimkeepError as exc:
            error = exc.code
    language = reader(request).language
    explained = ([(p, service.explain(p, language, today=found.today, msisdn=number)) for p in found.plans]
                 if found else [])
    return render(request, "portal/keep.html", numbers=numbers, msisdn=number, until=until or "",
                  found=found, plans=explained, error=error, saved=saved, auto_renew_page=AUTO_RENEW_PAGE, min_date=(now.date() + timedelta(days=1)).isoformat())


@router.post("/lines/keep/remind")
def remind_me(request: Request, db: Db, msisdn: Annotated[str, Form(max_length=32)],
              until: Annotated[str, Form(max_length=10)], mode: Annotated[str, Form(max_length=12)],
              _csrf: None = Csrf) -> Response:
    """Store the chosen plan and schedule a reminder message on each of its days."""
    if msisdn not in verified_numbers(request):
        return redirect("/signin?next=/lines/keep")
    wanted = _until(until)
    if wanted is None:
        return redirect(f"/lines/keep?msisdn={msisdn}&until=")
    now = clock.now()
    with db.transaction() as session:
        found = service.plans_for(session, msisdn=msisdn, until=wanted, now=now)
        chosen = next((p for p in found.plans if p.mode == mode), found.cheapest)
        service.save_as_reminders(session, line=found.line, operator=found.operator, plan=chosen, now=now,
                                  renew_url=f"/recharge?msisdn={msisdn}")
    return redirect(f"/lines/keep?msisdn={msisdn}&until={wanted.isoformat()}&saved=1")
