"""`simkeep staff ...`: personal back-office accounts. Passwords are shown once and stored as argon2 hashes."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.reseller import service as resellers
from simkeep.staff import flows, roles, service
from simkeep.terminal import console, database, fail

app = typer.Typer(help="Back-office staff accounts (roles: admin, support, finance, dpo, reseller).", no_args_is_help=True)


def _by() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:80]
    except Exception:  # no login name in some containers
        return "cli"


@app.command("create")
def create(username: str,
           role: Annotated[str, typer.Option(help="admin | support | finance | dpo | reseller")],
           reseller: Annotated[str | None, typer.Option(
               help="role reseller: the reseller's code (see `simkeep reseller list`); the account sees its pages "
                    "only")] = None,
           prompt_password: Annotated[bool, typer.Option("--prompt-password",
                                                         help="type the password instead of a generated one")] = False) -> None:
    """Create an account. Without --prompt-password a one-time password is printed, to be changed at first
    sign-in. Admins set up a TOTP second factor at their first sign-in. A reseller's account (--role reseller
    --reseller CODE) is bound to that reseller."""
    if role not in roles.BACK_OFFICE:  # a store's people are made with `simkeep store staff add`
        fail(service.InvalidRole())
    db = database()
    try:
        reseller_id = db.read(lambda s: resellers.by_code(s, reseller).id) if reseller else None
        if (role == "reseller") != (reseller_id is not None):
            raise service.ResellerBinding()
    except SimkeepError as exc:
        fail(exc)
    if prompt_password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = service.generate_password()
    try:
        account = flows.create(db, username=username, role=role, password=password,
                               must_change_password=not prompt_password, by=_by(), now=clock.now(),
                               reseller_id=reseller_id)
    except SimkeepError as exc:
        fail(exc)
    console.print(f"{account.role} account [bold]{account.username}[/bold] created"
                  + (f" for reseller [bold]{reseller.strip().upper()}[/bold]." if reseller else "."))
    if not prompt_password:
        console.print("One-time password (shown once; to be changed at the first sign-in):")
        print(password)


@app.command("list")
def list_accounts() -> None:
    """Every account with its role, status, second factor, last sign-in and live sessions."""
    now = clock.now()
    with database().transaction(write=False) as session:
        accounts = service.accounts(session)
        live = service.live_sessions(session, now=now)
        codes = {r.id: r.code for r in resellers.list_all(session)}
    table = Table("username", "role", "status", "TOTP", "last sign-in", "sessions")
    for a in accounts:
        status = ("disabled" if a.disabled_at else "locked" if a.locked_until and a.locked_until > now
                  else "must change password" if a.must_change_password else "active")
        role = f"{a.role} {codes.get(a.reseller_id, '?')}" if a.reseller_id else a.role
        table.add_row(a.username, role, status, "yes" if a.totp_secret else "no",
                      a.last_signin_at.strftime("%Y-%m-%d %H:%M") if a.last_signin_at else "-", str(live.get(a.id, 0)))
    console.print(table)


@app.command("disable")
def disable(username: str) -> None:
    """Disable an account (it stays in the audit log) and end all its sessions."""
    try:
        ended = database().write(lambda s: service.disable(s, username=username, by=_by(), now=clock.now()))
    except SimkeepError as exc:
        fail(exc)
    console.print(f"{username} disabled; {ended} session(s) ended")


@app.command("reset-password")
def reset_password(username: str) -> None:
    """A new one-time password (printed once); the account's sessions end and the lockout is lifted."""
    try:
        password = flows.reset_password(database(), username=username, by=_by(), now=clock.now())
    except SimkeepError as exc:
        fail(exc)
    console.print(f"new one-time password for {username} (to be changed at the next sign-in):")
    print(password)


@app.command("reset-totp")
def reset_totp(username: str) -> None:
    """Forget the second factor (a lost phone): a new one is set up at the next sign-in; sessions end."""
    try:
        database().write(lambda s: service.reset_totp(s, username=username, by=_by(), now=clock.now()))
    except SimkeepError as exc:
        fail(exc)
    console.print(f"{username}: TOTP reset; a new one is set up at the next sign-in")
