"""`simkeep voucher ...` and `simkeep reseller ...`: batches, serial-range actions with their second approver, support
lookups, resellers and their floats, from the command line.

Commands that change something act for a named staff member (`--as USERNAME`): the account must exist and its role
have the permission (vouchers.manage, resellers.manage); the audit log records `staff:<username>` and the reason,
and a bulk action needs a second, different person to approve it."""

from __future__ import annotations

import csv
import os
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from simkeep.catalog import service as catalog
from simkeep.config import get_settings
from simkeep.core import clock
from simkeep.core.errors import InvalidInput, SimkeepError
from simkeep.core.money import Money
from simkeep.core.phone import lookup_msisdn, masked
from simkeep.locale import formats
from simkeep.reseller import service as resellers
from simkeep.staff import service as staff
from simkeep.terminal import console, database, err, fail, in_transaction, progress_bar
from simkeep.voucher import pins, service
from simkeep.voucher.cardfile import CardFile, batch_file_name
from simkeep.voucher.models import EPIN, STATES, BulkAction, VoucherBatch
from simkeep.voucher.service import Card

app = typer.Typer(help="Recharge vouchers: batches, sales by serial range, blocks, support lookups.",
                  no_args_is_help=True)
batch_app = typer.Typer(help="Batches of printed cards.", no_args_is_help=True)
app.add_typer(batch_app, name="batch")
reseller_app = typer.Typer(help="Resellers: floats, deposits, purchases, statements.", no_args_is_help=True)

As = Annotated[str, typer.Option("--as", help="your staff username (see `simkeep staff list`); the audit log names "
                                              "you", show_default=False)]
Reason = Annotated[str, typer.Option(help="why, for the audit log", show_default=False)]

# What staff are told about a PIN that did not redeem (the caller was told only "invalid").
REASONS = {
    service.UNKNOWN: "no card has this PIN",
    service.CHECK_DIGIT: "wrong check digit: a typo, caught before any lookup (not counted)",
    service.USED: "already redeemed",
    service.NOT_SOLD: "card not sold yet (still stock)",
    service.OTHER_OPERATOR: "card for another operator's offer",
    "blocked": "card blocked (stolen or lost stock)",
    "expired": "card expired",
}


def _keys() -> pins.Keys:
    settings = get_settings()
    try:
        return pins.keys(settings)
    except SimkeepError as exc:
        if settings.env != "demo" and settings.secrets_file.exists():
            err.print(f"(the demo of `make run` keeps its voucher keys in {settings.secrets_file}: to use them, "
                      "run `export SIMKEEP_ENV=demo` first)", soft_wrap=True, markup=False)
        fail(exc)


def _at(instant: datetime | None) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if instant else "-"


def _money(minor: int, currency: str) -> str:
    return Money(minor, currency).format()


def _table(*headers: str, whole: tuple[int, ...] = ()) -> Table:
    """A table whose `whole` columns (ids, serials: what is copied into other commands) stay on one line;
    the others wrap on a narrow terminal, and nothing is cut off."""
    table = Table(*headers)
    for index, column in enumerate(table.columns):
        column.overflow = "fold"  # nothing is cut off
        column.no_wrap = index in whole
    return table


def _percent(basis_points: int) -> str:
    return f"{Decimal(basis_points).scaleb(-2).normalize():f} %"


def _range(text: str) -> tuple[int, int]:
    """FROM-TO, or one serial."""
    first, _, last = text.replace(" ", "").partition("-")
    try:
        return int(first), int(last or first)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a serial range: write FROM-TO, e.g. 100000000001-100000000500") from None


# -- batches ---------------------------------------------------------------------------------------------------------

@batch_app.command("create")
def batch_create(
    offer: Annotated[str, typer.Option(help="offer id, see `simkeep catalog show` (e.g. fr-orange-mobicarte-10)",
                                       show_default=False)],
    quantity: Annotated[int, typer.Option(help="cards to make (up to 10,000,000)", show_default=False)],
    expires: Annotated[str, typer.Option(help="last day the cards can be used, YYYY-MM-DD (operator's time zone)",
                                         show_default=False)],
    reason: Reason,
    out: Annotated[Path, typer.Option(help="folder for the card printer's CSV (created if missing)",
                                      show_default=False)],
    as_: As,
) -> None:
    """Make a batch of cards and write their PINs, once, to the card printer's CSV in --out.

    The file (batch-FIRST-LAST.csv, mode 600) is written while the cards are made and takes its name only when
    the batch is committed; if anything fails, nothing is made and no file is left. An existing file is never
    overwritten. The PINs are stored only as keyed hashes: this file is the only place they will ever be.
    The cards start as stock (generated): sell a range to a reseller to make them redeemable."""
    keys = _keys()
    try:
        last_day = date.fromisoformat(expires)
    except ValueError:
        fail(InvalidInput(f"--expires {expires!r}: write the last valid day as YYYY-MM-DD"))
    now = clock.now()
    batch: VoucherBatch | None = None
    tz = "UTC"
    try:
        with CardFile(out) as cards_file:
            with database().transaction() as session:
                actor = staff.acting(session, username=as_, permission="vouchers.manage")
                expires_at = service.expiry_after(session, offer_id=offer, last_day=last_day)

                def sink(cards: list[Card]) -> None:
                    nonlocal batch, tz
                    if batch is None:  # the first chunk: the batch and its serials are known now
                        batch = service.lookup(session, cards[0][0]).batch
                        tz = catalog.get_operator(session, batch.operator_id).timezone
                        cards_file.open(batch_file_name(batch))
                    cards_file.write(batch, cards, timezone=tz)

                with progress_bar(unit="cards") as progress:
                    task = progress.add_task("making cards", total=quantity)
                    batch = service.create_batch(session, offer_id=offer, quantity=quantity, expires_at=expires_at,
                                                 actor=actor, reason=reason, keys=keys, now=now, sink=sink,
                                                 progress=lambda n: progress.advance(task, n))
                cards_file.sync()
            cards_file.committed()
            try:
                path = cards_file.publish()
            except (SimkeepError, OSError) as exc:  # committed: the PINs stay where they are, and we say where
                err.print(f"[red]error[/red] {escape(str(getattr(exc, 'message', exc)))}")
                err.print(f"The batch {batch.id} was made: its PINs are in {cards_file.pending}; rename that file "
                          "yourself.", soft_wrap=True, markup=False)
                raise typer.Exit(1) from exc
    except SimkeepError as exc:
        fail(exc)
    except OSError as exc:  # the folder cannot be written, the disk is full: nothing was made
        err.print(f"[red]error[/red] cannot write the card file in {escape(str(out))}: {escape(str(exc))}; "
                  "nothing was made")
        raise typer.Exit(1) from exc
    console.print(f"batch [bold]{batch.id}[/bold]: {batch.quantity:,} cards of {batch.offer_id} "
                  f"({_money(batch.face_value_minor, batch.currency)} each), valid through "
                  f"{formats.last_date(batch.expires_at, tz).isoformat()} ({tz})", soft_wrap=True)
    console.print(f"serials {batch.serial_from}-{batch.serial_to}, stock until sold "
                  f"(`simkeep voucher sell {batch.serial_from}-{batch.serial_to} --reseller CODE ...`)",
                  soft_wrap=True, markup=False)
    console.print(f"PINs written to {path} (mode 600)", soft_wrap=True, markup=False)
    console.print("[bold]These PINs will never be shown again[/bold]: simkeep keeps only their hashes. Send the file "
                  "to the card printer, keep it safe, then delete it.", soft_wrap=True)


@batch_app.command("list")
def batch_list(limit: Annotated[int, typer.Option(help="newest first, at most this many")] = 100) -> None:
    """Batches, newest first: id, offer, cards and face value, serials, last valid day, state."""
    def work(session: Session) -> list[tuple[VoucherBatch, str]]:
        zones: dict[str, str] = {}
        found = []
        for b in service.list_batches(session, limit=limit):
            if b.operator_id not in zones:
                zones[b.operator_id] = catalog.get_operator(session, b.operator_id).timezone
            found.append((b, zones[b.operator_id]))
        return found

    table = _table("batch", "offer", "cards", "serials", "valid through", "state", whole=(0, 3, 4))
    for b, tz in in_transaction(work, write=False):
        table.add_row(str(b.id), b.offer_id + (" (e-PINs)" if b.kind == EPIN else ""),
                      f"{b.quantity:,} × {_money(b.face_value_minor, b.currency)}", f"{b.serial_from}-{b.serial_to}",
                      formats.last_date(b.expires_at, tz).isoformat(), "expired" if b.expired_at else "live")
    console.print(table)


@batch_app.command("report")
def batch_report(batch_id: str) -> None:
    """Cards of a batch in each state and the money in each, and whether it balances (sold = redeemed +
    outstanding + breakage). Exit 1 if it does not."""
    report = in_transaction(lambda s: service.report(s, batch_id), write=False)
    b, face = report.batch, report.batch.face_value_minor
    console.print(f"batch {b.id}: {b.offer_id}, {_money(face, b.currency)} each, serials {b.serial_from}-"
                  f"{b.serial_to}, expires {_at(b.expires_at)}; made {_at(b.created_at)} by {b.created_by}: "
                  f"{b.reason}", soft_wrap=True, markup=False)
    table = Table("cards", "count", "face value")
    for state in ("made", "sold", *STATES):
        table.add_row(state, f"{report.counts[state]:,}", _money(report.counts[state] * face, b.currency))
    console.print(table)
    money = Table("money", "amount")
    for name, label in (("sold", "sold to resellers"), ("redeemed", "redeemed (credited to lines)"),
                        ("outstanding", "outstanding (voucher liability)"), ("breakage", "breakage (sold, expired)"),
                        ("commission", "commission (resellers' discount)")):
        money.add_row(label, report.money[name].format())
    console.print(money)
    if report.balances:
        console.print("balances: [green]yes[/green] (sold = redeemed + outstanding + breakage)")
    else:
        console.print("balances: [red]NO[/red] (sold != redeemed + outstanding + breakage)")
        raise typer.Exit(1)


# -- support ---------------------------------------------------------------------------------------------------------

@app.command("show")
def show(serial: str) -> None:
    """One card, for support ("my card did not work"): state, batch, offer, reseller, when it was sold and redeemed,
    by which (masked) number and channel, and the failed tries that matched it, with their exact reasons."""
    view = in_transaction(lambda s: service.lookup(s, serial), write=False)
    v, b = view.voucher, view.batch
    rows = [
        ("serial", str(v.serial)),
        ("status", v.state),
        ("batch", f"{b.id} ({b.kind}, serials {b.serial_from}-{b.serial_to})"),
        ("offer", f"{b.offer_id} ({_money(b.face_value_minor, b.currency)}, {b.validity_days} days)"),
        ("expires", _at(v.expires_at)),
        ("reseller", f"{view.reseller.code} ({view.reseller.name})" if view.reseller else "-"),
        ("sold", _at(v.sold_at)),
        ("blocked", _at(v.blocked_at)),
        ("redeemed", f"{_at(v.redeemed_at)} by {masked(v.redeemed_msisdn or '')} via {v.redeemed_via}"
         if v.redeemed_at else "-"),
    ]
    for name, value in rows:
        console.print(f"{name:<9} {value}", soft_wrap=True, markup=False, highlight=False)
    if not view.failures:
        console.print("no failed tries matched this card")
        return
    table = _table("failed try", "number", "reason", "via", "from", whole=(1,))
    for f in view.failures:
        table.add_row(_at(f.at), masked(f.msisdn), f"{f.reason}: {REASONS.get(f.reason, f.reason)}", f.channel,
                      f.client)
    console.print(table)


@app.command("failures")
def failures(msisdn: str) -> None:
    """A number's recent failed PINs with their exact reasons, and until when it is locked out of redemption."""
    settings = get_settings()
    now = clock.now()

    def work(session: Session):
        number = lookup_msisdn(msisdn, settings.default_region)
        return number, service.failures_for(session, number), service.locked_until(
            session, number, now=now, failures_allowed=settings.voucher_failures_per_number,
            failure_hours=settings.voucher_failure_hours)

    number, tries, locked = in_transaction(work, write=False)
    window = now - timedelta(hours=settings.voucher_failure_hours)
    counted = sum(1 for f in tries if f.counted and f.at >= window)
    if locked:
        console.print(f"{number}: [red]locked[/red] until {_at(locked)} ({counted} counted failures in "
                      f"{settings.voucher_failure_hours} h, {settings.voucher_failures_per_number} allowed)")
    else:
        console.print(f"{number}: not locked ({counted} of {settings.voucher_failures_per_number} counted failures "
                      f"in the last {settings.voucher_failure_hours} h)")
    if not tries:
        return
    table = _table("at", "reason", "counted", "serial", "via", "from", whole=(3,))
    for f in tries:
        table.add_row(_at(f.at), f"{f.reason}: {REASONS.get(f.reason, f.reason)}", "yes" if f.counted else "no",
                      str(f.serial or "-"), f.channel, f.client)
    console.print(table)


# -- serial-range actions (maker-checker) ----------------------------------------------------------------------------

def _describe(action: BulkAction) -> str:
    count = action.serial_to - action.serial_from + 1
    who = f" to {action.params['reseller']}" if action.params.get("reseller") else ""
    return f"{action.action} {count:,} cards {action.serial_from}-{action.serial_to}{who}"


def _print_action(session: Session, action: BulkAction) -> None:
    if action.state == service.PENDING:
        console.print(f"action [bold]{action.id}[/bold] waits for a second person: {_describe(action)} "
                      f"(more than {service.BULK_LIMIT:,} cards).", soft_wrap=True)
        console.print(f"Another staff member approves it with `simkeep voucher approve {action.id} --as THEM` "
                      f"(or rejects it with `simkeep voucher reject {action.id} --reason R --as THEM`).",
                      soft_wrap=True, markup=False)
        return
    result = action.result
    console.print(f"done: {_describe(action)}: {result.get('changed', 0):,} changed "
                  f"(action {action.id}, by {action.decided_by})", soft_wrap=True, markup=False)
    if action.action == service.SELL and result.get("purchase_id"):
        reseller = resellers.by_code(session, action.params["reseller"])
        purchase = next(p for p in service.purchases_of(session, reseller.id, limit=20)
                        if str(p.id) == result["purchase_id"])
        console.print(f"{reseller.code} paid {_money(purchase.paid_minor, purchase.currency)} from its float for "
                      f"{_money(purchase.face_value_minor, purchase.currency)} of cards (commission "
                      f"{_money(purchase.commission_minor, purchase.currency)}); float now "
                      f"{resellers.float_balance(session, reseller).format()}", soft_wrap=True, markup=False)


def _request(action: str, serials: str, *, as_: str, reason: str, reseller: str | None = None) -> None:
    def work(session: Session) -> None:
        first, last = _range(serials)
        actor = staff.acting(session, username=as_, permission="vouchers.manage")
        done = service.request_action(session, action=action, serial_from=first, serial_to=last, actor=actor,
                                      reason=reason, reseller_code=reseller, now=clock.now())
        _print_action(session, done)

    in_transaction(work)


@app.command("sell")
def sell(serials: Annotated[str, typer.Argument(help="FROM-TO, e.g. 100000000001-100000000500")],
         reseller: Annotated[str, typer.Option(help="the buying reseller's code", show_default=False)],
         reason: Reason, as_: As) -> None:
    """Sell a range of printed stock to a reseller: the cards become redeemable and its float pays face value less
    its discount. More than 1,000 cards wait for a second staff member's approval."""
    _request(service.SELL, serials, as_=as_, reason=reason, reseller=reseller)


@app.command("block")
def block(serials: Annotated[str, typer.Argument(help="FROM-TO")], reason: Reason, as_: As) -> None:
    """Block a range (stolen or lost stock): its unredeemed cards stop working. More than 1,000 cards wait for a
    second staff member's approval."""
    _request(service.BLOCK, serials, as_=as_, reason=reason)


@app.command("unblock")
def unblock(serials: Annotated[str, typer.Argument(help="FROM-TO")], reason: Reason, as_: As) -> None:
    """Unblock a range: its blocked cards go back to stock, or to on sale if they had been sold. More than 1,000
    cards wait for a second staff member's approval."""
    _request(service.UNBLOCK, serials, as_=as_, reason=reason)


@app.command("pending")
def pending() -> None:
    """Bulk actions waiting for a second staff member's approval."""
    actions = in_transaction(service.pending_actions, write=False)
    if not actions:
        console.print("no action waits for approval")
        return
    table = _table("action", "what", "requested by", "at", "reason", whole=(0,))
    for a in actions:
        table.add_row(str(a.id), _describe(a), a.requested_by, _at(a.requested_at), a.reason)
    console.print(table)


@app.command("approve")
def approve(action_id: str, as_: As) -> None:
    """Approve (and run) another person's pending bulk action; the person who asked cannot approve it."""
    def work(session: Session) -> None:
        actor = staff.acting(session, username=as_, permission="vouchers.manage")
        _print_action(session, service.approve(session, action_id, actor=actor, now=clock.now()))

    in_transaction(work)


@app.command("reject")
def reject(action_id: str, reason: Reason, as_: As) -> None:
    """Reject a pending bulk action: nothing is done."""
    def work(session: Session) -> None:
        actor = staff.acting(session, username=as_, permission="vouchers.manage")
        action = service.reject(session, action_id, actor=actor, reason=reason, now=clock.now())
        console.print(f"rejected: {_describe(action)} (action {action.id}, by {action.decided_by})", markup=False)

    in_transaction(work)


@app.command("expire")
def expire(now: Annotated[str | None, typer.Option(
        help="as of this ISO-8601 instant, e.g. 2028-01-01T00:00:00Z (default: now)")] = None) -> None:
    """Expire the batches past their date now (the worker does it on its own): unredeemed cards end and what
    resellers paid for them moves from the voucher liability to breakage."""
    try:
        at = clock.parse_instant(now) if now else clock.now()
    except ValueError as exc:
        err.print(f"[red]error[/red] invalid --now: {escape(str(exc))}")
        raise typer.Exit(2) from exc
    count = in_transaction(lambda s: service.expire_due(s, now=at))
    console.print(f"{count} batches expired as of {_at(at)}")


# -- resellers -------------------------------------------------------------------------------------------------------

@reseller_app.command("create")
def reseller_create(
    code: Annotated[str, typer.Argument(help="short code, e.g. TABAC-RIVOLI")],
    name: Annotated[str, typer.Option(help="the shop's or company's name", show_default=False)],
    reason: Reason, as_: As,
    currency: Annotated[str, typer.Option(help="the float's currency")] = "EUR",
    discount_bp: Annotated[int, typer.Option(help="wholesale discount in basis points: 500 = 5 %")] = 0,
    email: Annotated[str | None, typer.Option(help="where statements go")] = None,
) -> None:
    """A reseller with an empty float; it buys vouchers at its discount once money is deposited."""
    def work(session: Session) -> None:
        actor = staff.acting(session, username=as_, permission="resellers.manage")
        r = resellers.create(session, code=code, name=name, currency=currency.upper(), discount_bp=discount_bp,
                             actor=actor, reason=reason, now=clock.now(), email=email)
        console.print(f"reseller [bold]{r.code}[/bold] ({escape(r.name)}): float in {r.currency}, discount "
                      f"{_percent(r.discount_bp)}")

    in_transaction(work)


@reseller_app.command("deposit")
def reseller_deposit(
    code: str,
    amount: Annotated[str, typer.Argument(help="in the float's currency, e.g. 250.00")],
    reference: Annotated[str, typer.Option(help="the bank transfer's reference or the receipt number; a reference "
                                                "is credited once", show_default=False)],
    reason: Reason, as_: As,
) -> None:
    """Credit money the reseller paid in to its float, once per reference."""
    def work(session: Session) -> None:
        actor = staff.acting(session, username=as_, permission="resellers.manage")
        r = resellers.by_code(session, code)
        done = resellers.deposit(session, reseller=r, amount=Money.parse(amount, r.currency), reference=reference,
                                 actor=actor, reason=reason, now=clock.now())
        if done.recorded:
            console.print(f"{done.amount.format()} deposited to {r.code}'s float (reference {reference}); float now "
                          f"{resellers.float_balance(session, r).format()}", markup=False)
        else:
            console.print(f"reference {reference} was recorded before: nothing moved; float "
                          f"{resellers.float_balance(session, r).format()}", markup=False)

    try:
        in_transaction(work)
    except ArithmeticError:  # "abc" is no Decimal
        fail(InvalidInput(f"{amount!r} is not an amount: write e.g. 250.00"))


@reseller_app.command("list")
def reseller_list() -> None:
    """Every reseller with its discount and float."""
    def work(session: Session):
        return [(r, resellers.float_balance(session, r)) for r in resellers.list_all(session)]

    table = Table("code", "name", "discount", "float", "since", "status")
    for r, balance in in_transaction(work, write=False):
        table.add_row(r.code, r.name, _percent(r.discount_bp), balance.format(), _at(r.created_at),
                      "disabled" if r.disabled_at else "active")
    console.print(table)


@reseller_app.command("show")
def reseller_show(code: str,
                  purchases: Annotated[int, typer.Option(help="recent purchases shown")] = 10) -> None:
    """A reseller's float, discount and recent purchases."""
    def work(session: Session):
        r = resellers.by_code(session, code)
        return r, resellers.float_balance(session, r), service.purchases_of(session, r.id, limit=purchases)

    r, balance, bought = in_transaction(work, write=False)
    for name, value in (("code", r.code), ("name", r.name), ("discount", _percent(r.discount_bp)),
                        ("float", balance.format()), ("e-mail", r.email or "-"), ("since", _at(r.created_at))):
        console.print(f"{name:<9} {value}", markup=False, highlight=False)
    if not bought:
        console.print("no purchases yet")
        return
    table = _table("purchase", "at", "cards", "serials", "face value", "paid", "commission", whole=(0, 3))
    for p in bought:
        table.add_row(str(p.id), _at(p.created_at),
                      f"{p.quantity:,} {'e-PINs' if p.kind == EPIN else 'cards'} of {p.offer_id}",
                      f"{p.serial_from}-{p.serial_to}", _money(p.face_value_minor, p.currency),
                      _money(p.paid_minor, p.currency), _money(p.commission_minor, p.currency))
    console.print(table)


STATEMENT_KINDS = {"reseller_deposit": "deposit", "voucher_sale": "vouchers bought", "topup": "line topped up"}


def _reference(reseller_id: uuid.UUID, reference: str) -> str:
    """What the reseller recognises: a deposit's own reference, a purchase's or a top-up's id."""
    kind, _, rest = reference.partition(":")
    if kind == "reseller_deposit":
        return rest.removeprefix(f"{reseller_id}:")
    names = {"voucher_sale": "purchase", "topup": "top-up"}
    return f"{names[kind]} {rest}" if kind in names and rest else reference


def _day_or_instant(text: str | None, option: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
    except ValueError:
        pass
    try:
        return clock.parse_instant(text)
    except ValueError:
        fail(InvalidInput(f"{option} {text!r}: write YYYY-MM-DD (UTC) or an ISO-8601 instant"))


@reseller_app.command("statement")
def reseller_statement(
    code: str,
    since: Annotated[str | None, typer.Option(help="from this day (YYYY-MM-DD, UTC) or instant")] = None,
    until: Annotated[str | None, typer.Option(help="before this day (YYYY-MM-DD, UTC) or instant")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="also write it as CSV to this new file")] = None,
) -> None:
    """The float's movements (deposits, purchases, top-ups), each with its commission and the running balance."""
    start, end = _day_or_instant(since, "--since"), _day_or_instant(until, "--until")
    if csv_file is not None and csv_file.exists():
        fail(InvalidInput(f"{csv_file} exists already; it is never overwritten"))

    def work(session: Session):
        r = resellers.by_code(session, code)
        return r, resellers.statement(session, r, since=start, until=end)

    r, lines = in_transaction(work, write=False)
    table = _table("at", "what", "reference", "amount", "commission", "balance", whole=(2,))
    for line in lines:
        table.add_row(_at(line.at), STATEMENT_KINDS.get(line.kind, line.kind), _reference(r.id, line.reference),
                      line.amount.format(), line.commission.format(), line.balance.format())
    console.print(f"statement of {r.code} ({escape(r.name)}), {r.currency}"
                  + (f", from {_at(start)}" if start else "") + (f", before {_at(end)}" if end else ""))
    console.print(table)
    if csv_file is not None:
        descriptor = os.open(csv_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(("at", "kind", "reference", "amount", "commission", "balance", "currency"))
            writer.writerows((line.at.isoformat(), line.kind, _reference(r.id, line.reference),
                              line.amount.as_decimal(), line.commission.as_decimal(), line.balance.as_decimal(),
                              r.currency) for line in lines)
        console.print(f"{len(lines)} lines written to {csv_file}", markup=False)

