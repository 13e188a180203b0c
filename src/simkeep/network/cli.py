"""`simkeep network ...`: the SIM vendor's files and the operator's number ranges imported from the command line
(`sims import`, `numbers import`), the way to load a batch of a million cards. A line's card (assign, swap, lost)
is in admin/network_cli.py: it needs the line, which sits above this package.

A file is checked whole first: one bad row refuses it, every bad row is listed by its line number, and nothing is
imported. The card keys in a vendor's file (Ki, OPc) are never read, stored or printed. `--as USERNAME` names the
staff member in the audit log (network.manage); without it the log says `cli`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.core.errors import InventoryFileRefused, SimkeepError
from simkeep.network import inventory
from simkeep.staff import service as staff
from simkeep.terminal import console, database, err, fail, progress_bar

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
            task = progress.add_task(f"importing {kind}", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            run = inventory.import_sims if kind == "cards" else inventory.import_numbers
            count = run(session, _lines(path), operator=operator, source=path.name, actor=actor, now=clock.now(),
                        progress=advance, **options)
    except InventoryFileRefused as exc:
        rows = exc.details["rows"]
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
