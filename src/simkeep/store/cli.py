"""`simkeep store ...`: the store directory (import, list), a store's people and PINs, drawers and statements.

Commands that change something act for a named staff member (`--as USERNAME`) whose role has the permission; the
audit log records `staff:<username>` and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.staff import service as staff
from simkeep.terminal import console, database, err, fail, progress_bar

app = typer.Typer(help="Stores: the directory, store staff and PINs, statements.", no_args_is_help=True)


# -- the directory ----------------------------------------------------------------------------------------------------

@app.command("import")
def import_stores(
    file: Annotated[Path, typer.Argument(help="a CSV file (one row per store, see the README for its columns) or a "
                                              "GeoJSON FeatureCollection of Points (.geojson/.json)",
                                         exists=True, dir_okay=False, readable=True)],
    as_: Annotated[str | None, typer.Option("--as", help="your staff username (permission stores.manage); the audit "
                                                         "log names you", show_default=False)] = None,
    reason: Annotated[str, typer.Option(help="why, for the audit log")] = "directory import",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check every row and say what would change, change "
                                                            "nothing")] = False,
) -> None:
    """Add or update stores by code from CSV or GeoJSON. Every row is checked first: when any row is wrong, each
    problem is printed with its line number and nothing changes."""
    from simkeep.store import directory

    try:
        rows = directory.read_file(file.name, file.read_text(encoding="utf-8"))
    except directory.ImportInvalid as exc:
        _print_errors(exc)
        raise typer.Exit(1) from None
    except (UnicodeDecodeError, ValueError) as exc:
        err.print(f"[red]error[/red] cannot read {escape(str(file))}: {escape(str(exc))}")
        raise typer.Exit(1) from None
    db = database()
    try:
        with db.transaction() as session, progress_bar() as progress:
            actor = staff.acting(session, username=as_, permission="stores.manage") if as_ else "cli"
            task = progress.add_task("checking stores", total=len(rows))
            result = directory.import_stores(session, rows, actor=actor, reason=reason, now=clock.now(),
                                             dry_run=dry_run, progress=lambda: progress.advance(task))
    except directory.ImportInvalid as exc:
        _print_errors(exc)
        raise typer.Exit(1) from None
    except SimkeepError as exc:
        fail(exc)
    verb = "would be" if dry_run else "were"
    console.print(f"{len(result.created)} stores {verb} created, {len(result.updated)} {verb} updated, "
                  f"{len(result.unchanged)} unchanged" + (" (dry run: nothing changed)" if dry_run else ""))


def _print_errors(exc) -> None:
    for line, problem in exc.errors:
        where = f"line {line}" if line else "file"
        err.print(f"[red]{where}[/red]: {escape(problem)}", soft_wrap=True)
    err.print(f"[red]error[/red] {exc.code}: {len(exc.errors)} row(s) not valid: nothing was imported")


@app.command("list")
def list_stores(search: Annotated[str | None, typer.Argument(help="code, name, postcode or city")] = None) -> None:
    """The store directory: code, name, city, languages, open or closed."""
    from simkeep.store import directory

    with database().transaction(write=False) as session:
        found = directory.list_stores(session, search=search)
        table = Table("code", "name", "postcode", "city", "languages", "services", "state")
        for s in found:
            table.add_row(s.code, escape(s.name), s.postcode, escape(s.city), " ".join(s.languages),
                          " ".join(s.services), ("closed " + s.closed_at.date().isoformat()) if s.closed_at
                          else ("demo" if s.demo else "open"))
    console.print(table)
    console.print(f"{len(found)} stores")
