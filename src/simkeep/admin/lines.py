"""A line as the back office sees it, read-only: state, validity, balance, and the number's recent payments,
top-ups and calls to the hotline (with what the menu said), and its SIM card (admin.network: assign, swap, lost).
Review items and reconciliation lists link here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.admin import network
from simkeep.admin.access import StaffMember, allowed
from simkeep.core.errors import SimkeepError
from simkeep.core.phone import lookup_msisdn
from simkeep.line import service as lines
from simkeep.network import esim
from simkeep.network import service as netstate
from simkeep.payment import service as payments
from simkeep.topup import service as topups
from simkeep.voice import service as calls
from simkeep.web.deps import Config, Db
from simkeep.web.pages import Lang, error_text, reader_zone, render

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/lines/{msisdn}", response_class=HTMLResponse)
def line_page(request: Request, db: Db, settings: Config, lang: Lang, member: Annotated[StaffMember, Depends(allowed("review.read"))],
              msisdn: Annotated[str, Path(max_length=32)], sim: network.Notice = None,
              sim_error: network.Notice = None) -> Response:
    try:
        number = lookup_msisdn(msisdn, settings.default_region)
        with db.transaction(write=False) as session:
            view = lines.view(session, lines.find_line(session, number))
            attempts = payments.recent_for_number(session, number)
            recent = topups.for_line(session, view.line.id, limit=10)
            hotline = calls.call_log(session, view.line.id)
            net = netstate.status(session, view.line.id)
            provisioning = netstate.recent_commands(session, view.line.id, limit=10)
            esim_profile = esim.of_line(session, view.line.id)
            cards = network.line_cards(session, view.line) if member.may("network.read") else None
    except SimkeepError:
        return render(request, "portal/error.html", status=404, error=error_text(lang, "line_not_found"))
    return render(request, "admin/line.html", view=view, attempts=attempts, topups=recent, calls=hotline,
                  network=net, provisioning=provisioning, esim_profile=esim_profile, tz=reader_zone(request),
                  staff=member.username, may_vouchers=member.may("vouchers.read"), cards=cards,
                  may_manage_sim=member.may("network.manage"), sim_notice=network.done_text(lang, sim),
                  sim_error=network.text(lang, sim_error) if sim_error else None)
