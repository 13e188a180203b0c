"""`simkeep store ...`: the store directory (import, list), a store's people and PINs, drawers and statements.

Commands that change something act for a named staff member (`--as USERNAME`) whose role has the permission; the
audit log records `staff:<username>` and the reason."""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from simkeep.config import get_settings
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.staff import flows, pins, roles
from simkeep.staff import service as staff
from simkeep.store import devices, directory, tasks
from simkeep.store import service as stores
from simkeep.store.models import Store
from simkeep.terminal import console, database, err, fail, in_transaction, progress_bar

T = TypeVar("T")
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

    found = in_transaction(work, write=False)

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
        store, money = in_transaction(work)
    except ArithmeticError:  # "abc" is no Decimal
        fail(InvalidInput(f"{amount!r} is not an amount: write e.g. 250.00"))
    console.print(f"{money.format()} remitted by {store.code} (reference {reference.strip()})", markup=False)


# -- a store's people and their PINs, counter tablets, ID-check retention --------------------------------------------

staff_app = typer.Typer(help="A store's agents and managers: accounts bound to the store, and their counter PINs.",
                        no_args_is_help=True)
device_app = typer.Typer(help="Counter tablets registered by store managers (on /counter/devices).",
                         no_args_is_help=True)
app.add_typer(staff_app, name="staff")
app.add_typer(device_app, name="device")

StaffAs = Annotated[str, typer.Option("--as", help="your staff username (an admin); the audit log names you",
                                      show_default=False)]


def _login() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:80]
    except Exception:  # no login name in some containers
        return "cli"


def _store(session: Session, code: str, *, open_only: bool = False) -> Store:
    store = directory.find(session, code)
    if store is None:
        raise stores.StoreNotFound(f"No store has the code {code.strip().upper()!r} (see `simkeep store list`).")
    if open_only and store.closed_at is not None:
        raise stores.StoreClosed()
    return store


def _acting_for(session: Session, username: str, store_id: uuid.UUID | None) -> tuple[str, uuid.UUID | None]:
    """(audit actor, store bound) for `--as`: an admin (stores.manage) acts for any store; a store manager only for
    their own store's agents (the store they are bound to is returned, for the service to enforce)."""
    account = staff.find(session, username)
    if account.disabled_at is None and roles.may(account.role, "store.manage") and account.store_id == store_id:
        return staff.actor(account.username), account.store_id
    return staff.acting(session, username=username, permission="stores.manage"), None


def _at(instant: datetime | None) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if instant else "-"


@staff_app.command("add")
def staff_add(code: Annotated[str, typer.Argument(help="the store's code, e.g. PAR-BELLEVILLE")],
              username: str,
              role: Annotated[str, typer.Option(help="agent | store_manager", show_default=False)],
              as_: StaffAs) -> None:
    """Create a store's agent or manager, bound to that store. A one-time password is printed (to be changed at
    the first sign-in on /admin); then give them a PIN with `simkeep store staff pin`."""
    db = database()
    try:
        if role not in roles.STORE_ROLES:
            raise staff.InvalidRole(f"A store's people are {' or '.join(roles.STORE_ROLES)}.")
        actor, store = db.read(lambda s: (staff.acting(s, username=as_, permission="stores.manage"),
                                          _store(s, code, open_only=True)))
        password = staff.generate_password()
        account = flows.create(db, username=username, role=role, password=password, must_change_password=True,
                               by=actor, now=clock.now(), store_id=store.id)
    except SimkeepError as exc:
        fail(exc)
    console.print(f"{account.role} account [bold]{account.username}[/bold] created for store "
                  f"[bold]{store.code}[/bold] ({store.name}).", soft_wrap=True)
    console.print("One-time password (shown once; to be changed at the first sign-in on /admin):")
    print(password)


@staff_app.command("pin")
def staff_pin(username: str,
              generate: Annotated[bool, typer.Option("--generate", help="make up a PIN and print it once")] = False,
              as_: Annotated[str | None, typer.Option(
                  "--as", help="your staff username: an admin, or the store manager of this agent's store (without "
                               "it the audit log names your login, cli:<login>)", show_default=False)] = None) -> None:
    """Set the counter PIN of a store's agent or manager: typed twice (4 to 8 digits; easy ones such as 0000, 1234
    or 1212 are refused), or made up with --generate and printed once. The old PIN stops working at once."""
    db = database()
    try:
        account = db.read(lambda s: staff.find(s, username))
        if account.role not in roles.STORE_ROLES:
            raise pins.NotStoreStaff()
        by, bound = (db.read(lambda s: _acting_for(s, as_, account.store_id)) if as_ else (_login(), None))
        if generate:
            pin, confirm = None, None
        else:
            pin = typer.prompt("PIN (4 to 8 digits)", hide_input=True)
            confirm = typer.prompt("The same PIN again", hide_input=True)
        chosen = flows.set_pin(db, account_id=account.id, pin=pin, confirm=confirm, by=by, now=clock.now(),
                               store_id=bound)
    except SimkeepError as exc:
        fail(exc)
    console.print(f"PIN set for [bold]{account.username}[/bold]; the old one no longer works.")
    if generate:
        console.print("New PIN (shown once; give it to them in person):")
        print(chosen)


def _with_store(code: str, read: Callable[[Session, uuid.UUID], T]) -> tuple[Store, T]:
    """The store with this code and what `read` finds of it, in one read transaction."""

    def work(session: Session) -> tuple[Store, T]:
        store = _store(session, code)
        return store, read(session, store.id)

    return in_transaction(work, write=False)


@staff_app.command("list")
def staff_list(code: Annotated[str, typer.Argument(help="the store's code")]) -> None:
    """A store's agents and managers: status, PIN set or not, last sign-in."""
    now = clock.now()
    store, people = _with_store(code, pins.of_store)
    table = Table("username", "role", "status", "PIN", "last sign-in", title=f"{store.code} · {store.name}")
    for a in people:
        status = ("disabled" if a.disabled_at else "locked" if a.locked_until and a.locked_until > now
                  else "must change password" if a.must_change_password else "active")
        table.add_row(a.username, a.role, status, "set" if a.pin_hash else "none", _at(a.last_signin_at))
    console.print(table)


@device_app.command("list")
def device_list(code: Annotated[str, typer.Argument(help="the store's code")]) -> None:
    """A store's counter tablets: id, name, who registered it, last PIN sign-in, revoked or not."""
    store, found = _with_store(code, devices.of_store)
    table = Table("id", "name", "registered", "by", "last used", "status", title=f"{store.code} · {store.name}")
    table.columns[0].no_wrap = True
    for d in found:
        table.add_row(str(d.id), d.name, _at(d.registered_at), d.registered_by, _at(d.last_used_at),
                      f"revoked {_at(d.revoked_at)}" if d.revoked_at else "live")
    console.print(table)


@device_app.command("revoke")
def device_revoke(device_id: Annotated[str, typer.Argument(help="the tablet's id (see `simkeep store device list`)")],
                  as_: Annotated[str, typer.Option("--as", help="your staff username: an admin, or the store's manager",
                                                   show_default=False)],
                  reason: Annotated[str, typer.Option(help="why, for the audit log")] = "") -> None:
    """Revoke a counter tablet (lost, stolen, replaced): its PIN pad stops working and the PIN sessions opened on it
    end at their next request."""
    try:
        try:
            wanted = uuid.UUID(device_id.strip())
        except ValueError:
            raise devices.DeviceNotFound() from None

        def work(session: Session) -> tuple[str, bool]:
            device = devices.get(session, wanted, store_id=None)
            by, bound = _acting_for(session, as_, device.store_id)
            return device.name, devices.revoke(session, device_id=wanted, store_id=bound or device.store_id, by=by,
                                               reason=reason, now=clock.now())

        name, revoked = database().write(work)
    except SimkeepError as exc:
        fail(exc)
    console.print(f"tablet {name} revoked" if revoked else f"tablet {name} was revoked already: nothing changed")


@app.command("purge-id-checks")
def purge_id_checks() -> None:
    """Delete the ID checks older than SIMKEEP_ID_CHECK_RETENTION_DAYS now (the worker's daily retention job does it too)."""
    settings = get_settings()
    deleted = tasks.purge_id_checks(database(), settings, clock.now())
    console.print(f"{deleted} ID check(s) older than {settings.id_check_retention_days} days deleted")
