"""The `simkeep` command: thin wrappers that parse, call one service, and print.

This module assembles the app: the general commands live here, the domain groups in their folder's cli.py
(bank, payment, notification); what they all print with is in simkeep.terminal."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from simkeep.admin.network_cli import app as network_app
from simkeep.admin.promotion_cli import app as promotion_app
from simkeep.config import ConfigError, Settings, check, get_settings
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.db import Database
from simkeep.locale import languages
from simkeep.network.cli import drift_cmd as network_drift_cmd
from simkeep.network.cli import provision_cmd as network_provision_cmd
from simkeep.network.esim_cli import app as esim_app
from simkeep.notification.cli import endpoint_app, messages_app
from simkeep.payment.cli import reconcile_app, refund_cmd, review_app
from simkeep.payment.providers.sepa.cli import app as bank_app
from simkeep.privacy.cli import app as privacy_app
from simkeep.promotion.partner_cli import app as partner_app
from simkeep.staff.cli import app as staff_app
from simkeep.store.cli import app as store_app
from simkeep.terminal import console, database, err, fail, progress_bar
from simkeep.voucher.cli import app as voucher_app
from simkeep.voucher.cli import reseller_app

app = typer.Typer(help="simkeep: prepaid number-keeping platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
catalog_app = typer.Typer(help="Operator and offer catalog.", no_args_is_help=True)
line_app = typer.Typer(help="Prepaid lines.", no_args_is_help=True)
ledger_app = typer.Typer(help="Double-entry ledger.", no_args_is_help=True)
key_app = typer.Typer(help="API keys (stored hashed; shown once).", no_args_is_help=True)
for sub, name in ((db_app, "db"), (catalog_app, "catalog"), (line_app, "line"), (ledger_app, "ledger"),
                  (key_app, "api-key"), (review_app, "review"), (reconcile_app, "reconcile"),
                  (endpoint_app, "endpoint"), (messages_app, "messages")):
    app.add_typer(sub, name=name)
app.add_typer(bank_app, name="bank")
app.add_typer(staff_app, name="staff")
app.add_typer(store_app, name="store")
app.add_typer(voucher_app, name="voucher")
app.add_typer(reseller_app, name="reseller")
app.add_typer(partner_app, name="partner")
app.add_typer(promotion_app, name="promotion")
network_app.command("drift")(network_drift_cmd)
network_app.command("provision")(network_provision_cmd)
app.add_typer(network_app, name="network")
app.add_typer(esim_app, name="esim")
app.add_typer(privacy_app, name="privacy")
@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from simkeep.migrate import upgrade

    url = get_settings().db_url
    Database(url).dispose()  # creates the SQLite file's folder
    upgrade(url, revision)
    console.print(f"database at [bold]{revision}[/bold]: {url.split('@')[-1]}")


@catalog_app.command("load")
def catalog_load(file: Annotated[Path | None, typer.Option(help="catalog JSON (default: the bundled one)")] = None) -> None:
    """Validate the catalog and upsert its operators and offers."""
    from simkeep.catalog import service

    try:
        catalog = service.read_catalog(file)
        with database().transaction() as session:
            operators, offers = service.load_catalog(session, catalog, now=clock.now())
    except SimkeepError as exc:
        fail(exc)
    console.print(f"catalog {catalog.version}: {operators} operators, {offers} offers loaded")


@catalog_app.command("show")
def catalog_show() -> None:
    """List operators with their lifecycle rules and offers."""
    from simkeep.catalog import service
    from simkeep.core.money import Money

    table = Table("operator", "tz", "grace/susp/quar days", "reminders", "offers (price → days)")
    with database().transaction(write=False) as session:
        for op, offers in service.list_operators(session):
            table.add_row(f"{op.id}\n{op.brand} {op.product}", op.timezone,
                          f"{op.grace_days}/{op.suspended_days}/{op.quarantine_days}",
                          ",".join(map(str, op.reminder_offsets)),
                          "\n".join(f"{o.id}: {Money(o.price_minor, op.currency).format()} "
                                    f"(+{Money(o.bonus_minor, op.currency).format()}) → {o.validity_days}d"
                                    for o in offers))
    console.print(table)


@line_app.command("create")
def line_create(msisdn: str, operator: Annotated[str, typer.Option(help="operator id, see `catalog show`")],
                language: Annotated[str, typer.Option(help="BCP 47 tag: zh-CN, fr, en (en-GB, zh-Hans... are read)")] = "en",
                email: str | None = None) -> None:
    """Create a line on a free number."""
    from simkeep.line import service

    try:
        with database().transaction() as session:
            line = service.create_line(session, msisdn=msisdn, operator_id=operator, language=language,
                                       email=email, now=clock.now())
            _print_line(service.view(session, line))
    except SimkeepError as exc:
        fail(exc)


@line_app.command("show")
def line_show(msisdn: str) -> None:
    """State, balance and dates of the number's line."""
    from simkeep.core.phone import lookup_msisdn
    from simkeep.line import service

    try:
        with database().transaction(write=False) as session:
            _print_line(service.view(session, service.find_line(session, lookup_msisdn(msisdn, get_settings().default_region))))
    except SimkeepError as exc:
        fail(exc)


def _print_line(view) -> None:
    line = view.line
    console.print_json(json.dumps({
        "msisdn": line.msisdn, "operator_id": line.operator_id, "state": line.state,
        "balance": view.balance.to_dict(), "bonus": view.bonus.to_dict(),
        "validity_ends_at": line.validity_ends_at.isoformat(), "number_loss_at": line.number_loss_at.isoformat(),
        "available_at": line.available_at.isoformat(), "language": languages.tag(line.language),
    }))


@app.command("topup")
def topup(msisdn: str, offer: str, key: Annotated[str, typer.Option(help="idempotency key")],
          channel: str = "agent") -> None:
    """Recharge a line with an offer (idempotent on --key)."""
    from simkeep.topup import service

    try:
        result = database().write(lambda s: service.top_up(s, principal="cli", idempotency_key=key, msisdn=msisdn,
                                                       offer_id=offer, channel=channel, now=clock.now(),
                                                       region=get_settings().default_region))
    except SimkeepError as exc:
        fail(exc)
    t = result.topup
    console.print(f"top-up {t.id} {'(replayed) ' if result.replayed else ''}{t.status}: "
                  f"{t.price_minor} {t.currency}, valid until {t.validity_ends_at.isoformat()}")


@app.command("charge")
def charge(msisdn: str, amount_minor: int, key: Annotated[str, typer.Option(help="idempotency key")],
           kind: str = "call") -> None:
    """Debit usage from a line (never below zero)."""
    from simkeep.charge import service

    try:
        result = database().write(lambda s: service.charge(s, principal="cli", idempotency_key=key, msisdn=msisdn,
                                                       amount_minor=amount_minor, kind=kind, now=clock.now(),
                                                       region=get_settings().default_region))
    except SimkeepError as exc:
        fail(exc)
    console.print(f"charge {result.charge.id}: {result.charge.amount_minor} {result.charge.currency}")


@app.command("sweep")
def sweep(now: Annotated[str | None, typer.Option(help="sweep as of this ISO-8601 instant, e.g. 2027-03-12T09:00:00Z")] = None,
          batch: int = 2000) -> None:
    """Send due reminders and move lines through grace, suspension, deactivation, quarantine and the pool."""
    from simkeep.lifecycle.tasks import count_due, run_sweep
    from simkeep.line import links

    try:
        at = clock.parse_instant(now) if now else clock.now()
    except ValueError as exc:
        err.print(f"[red]error[/red] invalid --now: {exc}")
        raise typer.Exit(2) from exc
    settings = checked_settings()  # reminders carry renewal links signed with its key
    renewal_links = links.RenewalLinks(settings.base_url, settings.key(links.PURPOSE))
    db = database()
    with progress_bar() as progress:
        task = progress.add_task("sweeping", total=count_due(db, now=at))
        result = run_sweep(db, now=at, batch=batch, links=renewal_links,
                           progress=lambda n: progress.advance(task, n))
    console.print(f"swept {result.lines} lines as of {at.isoformat()}: {result.reminders} reminders, "
                  f"transitions {result.transitions or '{}'}, {result.forfeited} balances forfeited")


CONFIG_ERROR = 78  # sysexits.h EX_CONFIG: a supervisor should not restart it until the configuration changes


def checked_settings() -> Settings:
    """The settings, or exit 78 (EX_CONFIG) naming every missing, weak or published secret."""
    try:
        settings = get_settings()
        check(settings)
    except ValidationError as exc:  # e.g. SIMKEEP_ENV=staging
        err.print("[red]error[/red] simkeep is refusing to start: " + escape(str(exc)))
        raise typer.Exit(CONFIG_ERROR) from exc
    except ConfigError as exc:
        err.print("[red]error[/red] simkeep is " + escape(str(exc)))
        err.print("Set the settings named above (README, Configuration; a strong secret: "
                  "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`), or try simkeep locally with "
                  "`simkeep run` (demo mode).")
        raise typer.Exit(CONFIG_ERROR) from exc
    return settings


@app.command("worker")
def worker(once: Annotated[bool, typer.Option(help="one sweep and one delivery round, then exit")] = False) -> None:
    """Run the background worker: lifecycle sweeps and outbox delivery with retries."""
    from simkeep.worker import run_worker

    raise typer.Exit(run_worker(checked_settings(), once=once))


@app.command("voice")
def voice(port: Annotated[int | None, typer.Option(help="UDP port for SIP (default: SIMKEEP_VOICE_SIP_PORT)")]
          = None) -> None:
    """Answer the hotline's calls over SIP (UDP on SIMKEEP_VOICE_SIP_HOST), registered at SIMKEEP_VOICE_REGISTRAR if
    set, until SIGTERM: then every call is hung up, the registration removed, and it exits 0."""
    from simkeep.voice.cli import run_voice

    raise typer.Exit(run_voice(checked_settings(), port=port))


app.command("refund")(refund_cmd)  # registered here to keep its place in `simkeep --help`


@ledger_app.command("verify")
def ledger_verify() -> None:
    """Recompute every balance from postings, and check the voucher liability against the cards sold and not yet
    redeemed or expired; exit 1 on any drift."""
    from simkeep.ledger import service
    from simkeep.voucher import service as vouchers

    with database().transaction(write=False) as session:
        report = service.verify(session)
        voucher_problems = vouchers.reconcile(session)
    for problem in report.problems:
        err.print(f"[red]drift[/red] {problem}")
    for problem in voucher_problems:
        err.print(f"[red]vouchers[/red] {problem}")
    problems = len(report.problems) + len(voucher_problems)
    console.print(f"{report.entries} entries, {report.postings} postings, {report.accounts} accounts, vouchers "
                  + ("reconciled: " if not voucher_problems else "not reconciled: ")
                  + ("[green]balanced[/green]" if not problems else f"[red]{problems} problems[/red]"))
    raise typer.Exit(0 if not problems else 1)


@key_app.command("create")
def api_key_create(role: Annotated[str, typer.Option(help="admin | agent | reseller")],
                   name: str = "api key",
                   reseller: Annotated[str | None, typer.Option(
                       help="role reseller: the code of the reseller the key acts for (required)")] = None) -> None:
    """Create an API key; it is printed once and stored only as a hash. A reseller key acts for one reseller (its
    float, purchases and e-PINs)."""
    from simkeep.auth import service
    from simkeep.core.errors import InvalidInput
    from simkeep.reseller import service as resellers

    secret = checked_settings().key("api_key")
    try:
        if role == "reseller" and not reseller:
            raise InvalidInput("a reseller key acts for one reseller: add --reseller CODE")
        with database().transaction() as session:
            reseller_id = resellers.by_code(session, reseller).id if reseller else None
            key, plaintext = service.create_api_key(session, name=name, role=role, secret=secret, now=clock.now(),
                                                    reseller_id=reseller_id)
    except SimkeepError as exc:
        fail(exc)
    console.print(f"{key.role} key {key.id} ({key.name})" + (f" for reseller {reseller.strip().upper()}" if reseller
                                                             else "") + ":", markup=False)
    print(plaintext)


@app.command("demo")
def demo() -> None:
    """Create a few demo lines with top-ups, a demo reseller and a few recharge cards sold to it (idempotent)."""
    from simkeep.demo import DEMO_CARDS, seed_demo, seed_demo_vouchers

    settings = get_settings()
    with progress_bar() as progress:
        task = progress.add_task("demo lines", total=None)
        created = seed_demo(database(), settings, progress=lambda: progress.advance(task))
    console.print(f"demo: {created} lines ready")
    cards = seed_demo_vouchers(database(), settings)
    if cards is None:
        console.print("demo vouchers skipped: SIMKEEP_VOUCHER_PEPPER and SIMKEEP_VOUCHER_SEAL_KEY are not set")
        return
    console.print(f"demo reseller {cards.reseller} (float {cards.float_left.format()}) bought {DEMO_CARDS} recharge "
                  f"cards of {cards.batch.offer_id}, serials {cards.batch.serial_from}-{cards.batch.serial_to}",
                  soft_wrap=True, markup=False)
    if cards.file is not None:
        console.print(f"demo recharge card PINs (to redeem in the portal): {cards.file}", soft_wrap=True,
                      markup=False)
    else:
        console.print(f"demo recharge card PINs: {settings.data_dir / 'demo-vouchers.csv'} was deleted; they are "
                      "never shown again (`make clean` starts the demo afresh)", soft_wrap=True, markup=False)


@app.command("serve")
def serve(workers: Annotated[int, typer.Option(help="processes sharing the port (SO_REUSEPORT)")] = 1) -> None:
    """Serve the API on SIMKEEP_HOST:SIMKEEP_PORT."""
    from simkeep.server import serve as run_server

    raise typer.Exit(run_server(checked_settings(), workers=workers))


@app.command("run")
def run() -> None:
    """Set up everything on the embedded default and serve: migrate, load the catalog, seed demo lines,
    start the worker and the hotline's voice menu (SIP), serve on http://SIMKEEP_HOST:SIMKEEP_PORT."""
    # Demo mode for this process and its children (unless chosen otherwise): secrets that are not configured are
    # generated once into the data directory, where the server and the worker read them; the sandbox is on.
    os.environ.setdefault("SIMKEEP_ENV", "demo")
    get_settings.cache_clear()
    settings = checked_settings()
    from simkeep.staff.demo import show_demo_staff
    from simkeep.store.demo_staff import show_counter_staff

    db_upgrade()
    catalog_load(None)
    demo()
    show_demo_staff(database(), settings)  # demo back-office accounts: admin (with TOTP), support, finance
    show_counter_staff(database(), settings, clock.now())  # a demo store's manager and agent, with their PINs
    env = dict(os.environ)
    if settings.env == "demo":
        console.print(f"demo mode: secrets not set in the environment are kept in [bold]{settings.secrets_file}[/bold]")
    if settings.env == "demo" and not os.environ.get("SIMKEEP_ADMIN_TOKEN"):
        console.print(f"demo admin token: [bold]{settings.admin_token}[/bold]")
    listen = f"http://{settings.host}:{settings.port}"
    console.print(f"serving on {listen}" + (f", reached at {settings.base_url}" if settings.base_url != listen else "")
                  + f" (docs at /docs); messages go to {settings.messages_log}")
    if settings.host in ("0.0.0.0", "::") and not settings.public_url:
        console.print("listening on every interface: set SIMKEEP_PUBLIC_URL=http://<this computer's address>:"
                      f"{settings.port} so that links in SMS and receipts open from a phone")
    from simkeep.server import Child, Supervisor

    console.print(f"the hotline answers SIP calls on udp:{settings.voice_sip_host}:{settings.voice_sip_port} "
                  "(a softphone, or SIPp: README, Voice menu)")
    raise typer.Exit(Supervisor([Child("worker", [sys.executable, "-m", "simkeep", "worker"], env),
                                 Child("server", [sys.executable, "-m", "simkeep", "serve"], env),
                                 Child("voice", [sys.executable, "-m", "simkeep", "voice"], env)],
                                grace=settings.shutdown_grace_seconds).run())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
