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


# -- statements and remittances (store.settlement) -------------------------------------------------------------------

def _settle_run(work, *, write: bool = True):
    from simkeep.core.errors import SimkeepError
    from simkeep.terminal import database, fail

    try:
        with database().transaction(write=write) as session:
            return work(session)
    except SimkeepError as exc:
        fail(exc)


@app.command("statement")
def statement(
    code: Annotated[str, typer.Argument(help="the store's code, e.g. PAR-BELLEVILLE", show_default=False)],
    month: Annotated[str | None, typer.Option(help="YYYY-MM in the store's time zone (default: this month)")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="also write the statement as CSV here")] = None,
    pdf_file: Annotated[Path | None, typer.Option("--pdf", help="also write it as an A4 PDF here")] = None,
    language: Annotated[str, typer.Option(help="the PDF's language: en, fr or zh_CN")] = "en",
) -> None:
    """A store's monthly statement: owed at the start, sales, commission, voids, over/short, remittances, owed at
    the end, and whether it agrees with the ledger (exit 1 if not)."""
    from zoneinfo import ZoneInfo

    from simkeep.core import clock
    from simkeep.core.money import Money
    from simkeep.store import settlement
    from simkeep.terminal import console

    def work(session):
        store = settlement.store_by_code(session, code)
        today = clock.now().astimezone(ZoneInfo(store.timezone)).date()
        return settlement.settlement(session, store, month=settlement.parse_month(month, default=today))

    found = _settle_run(work, write=False)

    def fmt(minor: int) -> str:
        return Money(minor, found.currency).format()

    console.print(f"{found.store.code} {found.month:%Y-%m} ({found.store.timezone})", markup=False)
    for label, count, minor in (
            ("owed at the start", "", found.opening_minor),
            ("+ cash sales", found.cash_sales.count, found.cash_sales.total_minor),
            ("- commission earned", "", found.commission_minor),
            ("- voids (net)", found.voids.count, found.voids_net_minor),
            ("+ over / - short", "", found.over_short_minor),
            ("- remitted", len(found.remittances), found.remitted_minor),
            ("owed at the end", "", found.closing_minor),
            ("card sales (info)", found.card_sales.count, found.card_sales.total_minor),
            ("recharge-card sales (info)", found.voucher_sales.count, found.voucher_sales.total_minor)):
        console.print(f"{label:<28}{count!s:>6}  {fmt(minor):>14}", markup=False)
    console.print(f"agrees with the ledger: {'yes' if found.balances else 'NO'}", markup=False)
    if csv_file is not None:
        csv_file.write_bytes(settlement.csv_bytes(found))
        console.print(f"CSV written to {csv_file}", markup=False)
    if pdf_file is not None:
        from simkeep.store import pdf as store_pdf  # WeasyPrint and the templates: only when a PDF is asked for

        pdf_file.write_bytes(store_pdf.statement_pdf(found, language=language, printed_at=clock.now()))
        console.print(f"PDF written to {pdf_file}", markup=False)
    if not found.balances:
        raise typer.Exit(1)


@app.command("remit")
def remit(
    code: Annotated[str, typer.Argument(help="the store's code", show_default=False)],
    amount: Annotated[str, typer.Argument(help="in the store's currency, e.g. 250.00", show_default=False)],
    reference: Annotated[str, typer.Option(help="the bank slip's or transfer's reference; recorded once per store",
                                           show_default=False)],
    reason: Annotated[str, typer.Option(help="why, for the audit log", show_default=False)],
    as_: Annotated[str, typer.Option("--as", help="your staff username; the role needs stores.statements",
                                     show_default=False)],
) -> None:
    """Record money a store paid over to the operator: the store then owes that much less."""
    from simkeep.core import clock
    from simkeep.core.errors import InvalidInput
    from simkeep.core.money import Money
    from simkeep.staff import service as staff
    from simkeep.store import settlement
    from simkeep.terminal import console, fail

    def work(session):
        actor = staff.acting(session, username=as_, permission="stores.statements")
        store = settlement.store_by_code(session, code)
        money = Money.parse(amount.replace(",", "."), store.currency)
        settlement.record_remittance(session, store=store, amount=money, reference=reference, actor=actor,
                                     reason=reason, now=clock.now())
        return store, money

    try:
        store, money = _settle_run(work)
    except ArithmeticError:  # "abc" is no Decimal
        fail(InvalidInput(f"{amount!r} is not an amount: write e.g. 250.00"))
    console.print(f"{money.format()} remitted by {store.code} (reference {reference.strip()})", markup=False)
