"""`simkeep partner …`: cashback and affiliate partners — create one (its signing secret printed once), list them,
print a month's statement (or write it as CSV)."""

from __future__ import annotations

import csv
import sys
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.table import Table

from simkeep.core import clock
from simkeep.core.errors import InvalidInput, SimkeepError
from simkeep.core.money import Money
from simkeep.terminal import console, fail, in_transaction

app = typer.Typer(help="Cashback and affiliate partners: commissions on the renewals they send.", no_args_is_help=True)


@app.command("create")
def create(
    code: Annotated[str, typer.Argument(help="the code in the partner's links (?partner=CODE), case-insensitive")],
    name: Annotated[str, typer.Option(help="the partner's name")],
    reason: Annotated[str, typer.Option(help="why, for the audit log")],
    percent: Annotated[str, typer.Option(help="commission: percent of the price paid, e.g. 2.5")] = "0",
    fixed: Annotated[str, typer.Option(help="commission: a fixed amount per renewal, e.g. 0.30")] = "0",
    currency: Annotated[str | None, typer.Option(help="the fixed amount's currency, e.g. EUR")] = None,
    postback_url: Annotated[str | None, typer.Option(help="where conversions are posted, signed")] = None,
) -> None:
    """Add an active partner; prints the postback signing secret once (give it to the partner)."""
    from simkeep.promotion import cashback

    try:
        percent_bp = int(Decimal(percent.replace(",", ".")) * 100)
        fixed_minor = Money.parse(fixed.replace(",", "."), currency).minor if currency else 0
    except (InvalidOperation, ValueError, SimkeepError):
        fail(InvalidInput("--percent and --fixed are numbers, for example 2.5 and 0.30"))
    if fixed not in ("0", "0.00", "") and not currency:
        fail(InvalidInput("--currency is needed with --fixed"))
    partner, secret = in_transaction(lambda session: cashback.create_partner(
        session, code=code, name=name, percent_bp=percent_bp, fixed_minor=fixed_minor, currency=currency,
        postback_url=postback_url, actor="cli", reason=reason, now=clock.now()))
    console.print(f"partner {partner.code} created; postback signing secret (shown once):")
    print(secret)


@app.command("list")
def list_partners() -> None:
    """Every partner: code, name, commission, postback URL, state."""
    from simkeep.promotion import cashback

    table = Table("code", "name", "percent", "fixed", "postback", "state")
    for p in in_transaction(cashback.list_partners, write=False):
        fixed = str(Money(p.fixed_minor, p.currency).as_decimal()) + f" {p.currency}" if p.currency else "-"
        table.add_row(p.code, p.name, f"{Decimal(p.percent_bp) / 100}", fixed, p.postback_url or "-", p.state)
    console.print(table)


@app.command("statement")
def statement(
    code: Annotated[str, typer.Argument(help="the partner's code")],
    month: Annotated[str | None, typer.Option(help="YYYY-MM (UTC); this month when left out")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="write the statement as CSV on standard output")] = False,
) -> None:
    """A month's conversions, reversals and the commission due."""
    from simkeep.promotion import cashback

    first = cashback.parse_month(month, today=clock.now().date())
    if first is None:
        fail(InvalidInput("--month is YYYY-MM, for example 2026-11"))
    result = in_transaction(lambda session: cashback.statement(session, cashback.partner_by_code(session, code),
                                                                first), write=False)
    rows = list(cashback.statement_rows(result))
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(cashback.CSV_HEADER)
        writer.writerows(rows)
        return
    table = Table(*cashback.CSV_HEADER)
    for row in rows:
        table.add_row(*row)
    console.print(f"{result.partner.code} — {result.partner.name}, {first:%Y-%m} (UTC)")
    console.print(table)
