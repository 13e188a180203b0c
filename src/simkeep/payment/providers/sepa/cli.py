"""`simkeep bank …`: import camt.053 statements, list the entries waiting for review, settle them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.core.money import Money
from simkeep.payment.providers.sepa import service
from simkeep.terminal import console, database, err, fail, progress_bar

app = typer.Typer(help="Bank transfers: camt.053 statement import and the review queue.", no_args_is_help=True)
PROGRESS_FROM = 100  # entries: a smaller statement imports before a bar would be seen


@app.command("import")
def import_(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                                  help="camt.053 XML file from the bank")]) -> None:
    """Import a statement: exact payments of pending orders are credited (by the worker), the rest goes to review.
    Importing the same statement again changes nothing."""

    db = database()
    try:
        document, sha256 = service.parse(file.read_bytes())
        total = document.entry_count
        with progress_bar(disable=total < PROGRESS_FROM) as progress:
            task = progress.add_task("entries", total=total)
            with db.transaction() as session:
                result = service.import_document(session, document=document, sha256=sha256, now=clock.now(),
                                                 on_entry=lambda: progress.advance(task))
    except SimkeepError as exc:
        fail(exc)
    finally:
        db.dispose()
    if result.nothing_new:
        console.print(f"{file.name}: already imported, nothing changed "
                      f"(statements {', '.join(result.already_imported)})")
        return
    console.print(f"{file.name}: statements {', '.join(result.imported)} imported")
    if result.already_imported:
        console.print(f"already imported before, left unchanged: {', '.join(result.already_imported)}")
    console.print(f"new {result.new}  matched {result.matched}  review {result.review}  "
                  f"duplicate {result.duplicate}  ignored {result.ignored}")


@app.command("entries")
def entries(status: Annotated[str, typer.Option(help="review, matched, settled or all")] = service.REVIEW,
            limit: int = 200) -> None:
    """Bank entries by status, newest booking first (default: those waiting for review)."""

    if status not in (*service.STATUSES, "all"):
        err.print(f"[red]error[/red] status must be one of {', '.join(service.STATUSES)} or all")
        raise typer.Exit(2)
    db = database()
    try:
        with db.transaction(write=False) as session:
            rows = service.entries(session, status=None if status == "all" else status, limit=limit)
    finally:
        db.dispose()
    table = Table(show_lines=True)
    for header in ("entry id / bank ref", "booked / amount", "payer / reference", "status / note"):
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(f"{row.id}\n{row.entry_ref}", f"{row.booked_on.isoformat()}\n{_amount(row.amount_minor, row.currency)}",
                      f"{row.debtor or '-'}\n{row.reference or '-'}", f"{row.status}\n{row.note or ''}")
    console.print(table)
    console.print(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}")


@app.command("settle")
def settle(entry_id: str, reason: Annotated[str, typer.Option(help="what was done, for the audit log")],
           actor: Annotated[str, typer.Option(help="who did it")]) -> None:
    """Close an entry in review once staff dealt with it (outgoing refund transfer, manual credit, …)."""

    db = database()
    try:
        with db.transaction() as session:
            entry = service.settle(session, entry_id=entry_id, actor=actor, reason=reason, now=clock.now())
    except SimkeepError as exc:
        fail(exc)
    finally:
        db.dispose()
    console.print(f"entry {entry.id} settled")


def _amount(minor: int, currency: str) -> str:
    try:
        return Money(minor, currency).format()
    except Exception:
        return f"{minor} {currency}"
