"""`simkeep store ...`: the store directory (import, list), a store's people and PINs, drawers and statements.

Commands that change something act for a named staff member (`--as USERNAME`) whose role has the permission; the
audit log records `staff:<username>` and the reason."""

from __future__ import annotations

import getpass
import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
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
from simkeep.terminal import console, database, fail

app = typer.Typer(help="Stores: the directory, store staff and PINs, statements.", no_args_is_help=True)


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
    store = directory.by_code(session, code)
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


@staff_app.command("list")
def staff_list(code: Annotated[str, typer.Argument(help="the store's code")]) -> None:
    """A store's agents and managers: status, PIN set or not, last sign-in."""
    now = clock.now()
    try:
        with database().transaction(write=False) as session:
            store = _store(session, code)
            people = pins.of_store(session, store.id)
    except SimkeepError as exc:
        fail(exc)
    table = Table("username", "role", "status", "PIN", "last sign-in", title=f"{store.code} · {store.name}")
    for a in people:
        status = ("disabled" if a.disabled_at else "locked" if a.locked_until and a.locked_until > now
                  else "must change password" if a.must_change_password else "active")
        table.add_row(a.username, a.role, status, "set" if a.pin_hash else "none", _at(a.last_signin_at))
    console.print(table)


@device_app.command("list")
def device_list(code: Annotated[str, typer.Argument(help="the store's code")]) -> None:
    """A store's counter tablets: id, name, who registered it, last PIN sign-in, revoked or not."""
    try:
        with database().transaction(write=False) as session:
            store = _store(session, code)
            found = devices.of_store(session, store.id)
    except SimkeepError as exc:
        fail(exc)
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
    """Delete the ID checks older than SIMKEEP_ID_CHECK_RETENTION_DAYS now (the worker does it on every sweep)."""
    settings = get_settings()
    deleted = tasks.purge_id_checks(database(), settings, clock.now())
    console.print(f"{deleted} ID check(s) older than {settings.id_check_retention_days} days deleted")
