"""`simkeep network ...`: the SIM inventory from the command line, the twin of the /admin/network pages and of the
forms on a line's admin page.

- `sims import`, `numbers import`: the SIM vendor's file and the operator's number ranges (the way to load a batch
  of a million cards). A file is checked whole first: one bad row refuses it, every bad row is listed by its line
  number, and nothing is imported. The card keys in a vendor's file (Ki, OPc) are never read, stored or printed.
- `sims assign|swap|lost`: a line's card. The line is locked first, so its provisioning commands are queued in turn
  with any renewal or sweep.

They live with the back-office pages because they need the line (above network/) and a staff member's role
(`--as USERNAME`, permission network.manage: admin); the audit log records `staff:<username>` and the reason. An
import without `--as` is logged as `cli`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy.orm import Session

from simkeep.admin.network import line_ref
from simkeep.catalog import service as catalog
from simkeep.config import get_settings
from simkeep.core import clock
from simkeep.core.errors import InventoryFileRefused, SimkeepError
from simkeep.core.phone import lookup_msisdn
from simkeep.line import service as lines
from simkeep.network import inventory
from simkeep.network.inventory import LineRef
from simkeep.network.models import Sim
from simkeep.staff import service as staff
from simkeep.terminal import console, database, err, fail, in_transaction, progress_bar

app = typer.Typer(help="The network: SIM cards, numbers and what the HLR holds for each line.", no_args_is_help=True)
sims_app = typer.Typer(help="SIM cards: import the vendor's file; assign, swap or report a line's card lost.",
                       no_args_is_help=True)
numbers_app = typer.Typer(help="The operator's numbers: import ranges.", no_args_is_help=True)
app.add_typer(sims_app, name="sims")
app.add_typer(numbers_app, name="numbers")

File = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the CSV file (UTF-8, a header)")]
OperatorId = Annotated[str, typer.Option("--operator", help="operator id, see `simkeep catalog show`",
                                         show_default=False)]
AsOptional = Annotated[str | None, typer.Option("--as", help="your staff username (network.manage), for the audit "
                                                             "log", show_default=False)]


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from handle


def _import(kind: str, path: Path, operator_id: str, as_: str | None, **options: str) -> None:
    try:
        with database().transaction() as session, progress_bar(unit=kind) as progress:
            operator = catalog.get_operator(session, operator_id)
            actor = staff.acting(session, username=as_, permission="network.manage") if as_ else "cli"
            task = progress.add_task(f"checking {kind}", total=None)  # every row, before anything is written

            def advance(done: int, total: int) -> None:
                progress.update(task, description=f"importing {kind}", completed=done, total=total)

            run = inventory.import_sims if kind == "cards" else inventory.import_numbers
            count = run(session, _lines(path), operator=operator, source=path.name, actor=actor, now=clock.now(),
                        progress=advance, **options)
    except InventoryFileRefused as exc:
        rows = exc.rows
        for row in rows:
            err.print(f"line {row['line']}: {escape(row['reason'])}", soft_wrap=True)
        err.print(f"{len(rows):,} bad row(s): nothing was imported", soft_wrap=True)
        fail(exc)
    except UnicodeDecodeError:
        err.print(f"[red]error[/red] {escape(path.name)} is not UTF-8 text: nothing was imported")
        raise typer.Exit(1) from None
    except SimkeepError as exc:
        fail(exc)
    console.print(f"{count:,} {kind} of {operator_id} imported from {path.name}", soft_wrap=True, markup=False)


@sims_app.command("import")
def import_sims(file: File, operator: OperatorId, as_: AsOptional = None,
                profile: Annotated[str, typer.Option(help="the profile of rows that name none")] = "standard") -> None:
    """Put every card of a SIM vendor's file in stock: columns ICCID and IMSI (and optionally profile, kind); other
    columns, the card keys among them, are ignored. One bad row (Luhn check, IMSI not of the operator's MCC-MNC, a
    card already in stock) refuses the whole file, with every bad row's line number."""
    _import("cards", file, operator, as_, profile=profile)


@numbers_app.command("import")
def import_numbers(file: File, operator: OperatorId, as_: AsOptional = None) -> None:
    """Add the operator's numbers: a column msisdn (one a row), or first and last (a range, both ends included),
    national or international form. One bad row refuses the whole file."""
    _import("numbers", file, operator, as_)


# -- a line's card ---------------------------------------------------------------------------------------------------

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
