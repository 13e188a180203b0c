"""`simkeep network sims assign|swap|lost`: a line's SIM card from the command line, the twin of the forms on the
admin line page. They live with the back-office pages because they need the line (above network/) and a staff
member's role (`--as USERNAME`, permission network.manage: admin); the audit log records `staff:<username>` and the
reason. The line is locked first, so its provisioning commands are queued in turn with any renewal or sweep."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from simkeep.admin.network import line_ref
from simkeep.config import get_settings
from simkeep.core import clock
from simkeep.core.phone import lookup_msisdn
from simkeep.line import service as lines
from simkeep.network import inventory
from simkeep.network.cli import app, sims_app
from simkeep.network.inventory import LineRef
from simkeep.network.models import Sim
from simkeep.staff import service as staff
from simkeep.terminal import console, in_transaction

__all__ = ["app"]
As = Annotated[str, typer.Option("--as", help="your staff username (permission network.manage: admin); the audit "
                                              "log names you", show_default=False)]
Reason = Annotated[str, typer.Option(help="why, for the audit log", show_default=False)]
Msisdn = Annotated[str, typer.Argument(help="the line's number, e.g. +33612345678")]
Iccid = Annotated[str, typer.Argument(help="the ICCID of a card in stock, of the line's operator")]


def _on_line(msisdn: str, as_: str, act: Callable[[Session, LineRef, str], Sim], said: str) -> None:
    def work(session: Session) -> None:
        actor = staff.acting(session, username=as_, permission="network.manage")
        number = lookup_msisdn(msisdn, get_settings().default_region)
        locked = lines.lock_live_line(session, number)
        if locked is None:
            raise lines.no_live_line(session, number)
        sim = act(session, line_ref(locked[0]), actor)
        console.print(f"{number}: {said} {sim.iccid} (IMSI {sim.imsi})", soft_wrap=True, markup=False)

    in_transaction(work)


@sims_app.command("assign")
def assign(msisdn: Msisdn, iccid: Iccid, reason: Reason, as_: As) -> None:
    """Give a line without a card one from stock: the network is told to hold it in the line's state."""
    _on_line(msisdn, as_, lambda s, line, actor: inventory.assign(
        s, line=line, iccid=iccid, actor=actor, reason=reason, now=clock.now()), "card assigned:")


@sims_app.command("swap")
def swap(msisdn: Msisdn, new_iccid: Iccid, reason: Reason, as_: As,
         lost: Annotated[bool, typer.Option("--lost", help="the old card was lost or stolen (else: retired)")] = False
         ) -> None:
    """Move the number to a new card: the old one is retired (or lost) and its IMSI removed from the HLR, then the
    new one is added in the line's state."""
    _on_line(msisdn, as_, lambda s, line, actor: inventory.swap(
        s, line=line, new_iccid=new_iccid, actor=actor, reason=reason, lost=lost, now=clock.now()), "now on card")


@sims_app.command("lost")
def lost(msisdn: Msisdn, reason: Reason, as_: As) -> None:
    """The line's card is lost or stolen and no new one is at hand: its IMSI leaves the HLR at once; the number stays
    with the line until a new card is assigned."""
    _on_line(msisdn, as_, lambda s, line, actor: inventory.report_lost(
        s, line=line, actor=actor, reason=reason, now=clock.now()), "card reported lost:")
