"""`simkeep promotion ...`: campaigns from the command line, the twin of the /admin/promotions pages.

Commands that change something act for a named staff member (`--as USERNAME`, permission promotions.manage: admin
and finance); the audit log records `staff:<username>` and the reason. The commands live with the back-office
pages rather than in promotion/ because checking a staff member's role needs the staff domain, which sits above
promotion (promotion is priced by every channel, staff included); the form is read by the same function
(admin.promotions.spec_of)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from simkeep.admin.promotions import FieldError, spec_of
from simkeep.core import clock
from simkeep.core.errors import InvalidInput
from simkeep.core.money import Money
from simkeep.promotion import reports
from simkeep.promotion import service as promotions
from simkeep.promotion.models import BENEFITS, Promotion
from simkeep.staff import service as staff
from simkeep.terminal import console, in_transaction

app = typer.Typer(help="Promotion campaigns: create, start, pause, resume, and their reports.", no_args_is_help=True)

As = Annotated[str, typer.Option("--as", help="your staff username (permission promotions.manage: admin or finance); "
                                              "the audit log names you", show_default=False)]
Reason = Annotated[str, typer.Option(help="why, for the audit log", show_default=False)]
PERMISSION = "promotions.manage"
# What FieldError names, said for a terminal.
PROBLEMS = {
    "timezone": "--timezone: an IANA zone such as Europe/Paris",
    "benefit": f"--benefit: one of {', '.join(BENEFITS)}",
    "currency": "--currency: a 3-letter code, needed for an amount benefit or a money budget",
    "benefit_value": "--value: a percentage 1-100, an amount above 0 (e.g. 2.50) or 1-365 days",
    "budget_minor": "--budget: an amount above 0, e.g. 500.00",
    "operator_id": "--operator: an operator id, see `simkeep catalog show`",
    "offer_ids": "--offer: an offer id, see `simkeep catalog show`",
    "starts_at": "--starts: a local date and time, e.g. '2027-03-01 00:00'",
    "ends_at": "--ends: a local date and time after --starts",
    "per_line_limit": "--per-line-limit: a whole number, at least 1",
    "max_uses": "--max-uses: a whole number, at least 1",
}


def _at(instant: datetime, zone: str = "UTC") -> str:
    if zone == "UTC":
        return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    from zoneinfo import ZoneInfo

    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _money(minor: int, currency: str | None) -> str:
    return Money(minor, currency).format() if currency else str(minor)


def _benefit(p: Promotion) -> str:
    if p.benefit in ("percent_off", "cashback_percent"):
        return f"{p.benefit} {p.benefit_value} %"
    if p.benefit == "bonus_days":
        return f"bonus_days {p.benefit_value}"
    return f"{p.benefit} {_money(p.benefit_value, p.currency)}"


@app.command("list")
def list_cmd() -> None:
    """Every campaign, newest first: id, state, window (UTC), uses and money spent against their budgets."""
    def work(session: Session) -> None:
        table = Table("id", "name", "code", "benefit", "state", "window (UTC)", "uses", "spent")
        for column in table.columns:
            column.overflow = "fold"
        table.columns[0].no_wrap = True
        for item in reports.listing(session, now=clock.now()):
            p = item.promotion
            state = "ended" if item.ended else p.state + (" (applies now)" if item.live else "")
            table.add_row(str(p.id), escape(p.name), p.code or "-", _benefit(p), state,
                          f"{_at(p.starts_at)} → {_at(p.ends_at)}",
                          f"{p.uses}/{p.max_uses}" if p.max_uses else str(p.uses),
                          _money(p.spent_minor, p.currency) + (f"/{_money(p.budget_minor, p.currency)}"
                                                               if p.budget_minor else ""))
        console.print(table)

    in_transaction(work, write=False)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="what staff and payers see, e.g. 'Spring -20%'")],
    benefit: Annotated[str, typer.Option(help=f"one of {', '.join(BENEFITS)}", show_default=False)],
    value: Annotated[str, typer.Option(help="a percentage (20), an amount (2.50, with --currency) or days (10)",
                                       show_default=False)],
    starts: Annotated[str, typer.Option(help="start, local time in --timezone: 'YYYY-MM-DD HH:MM'",
                                        show_default=False)],
    ends: Annotated[str, typer.Option(help="end (excluded), local time in --timezone", show_default=False)],
    reason: Reason, as_: As,
    timezone: Annotated[str | None, typer.Option(
        help="the window's zone (default: the --operator's, else Europe/Paris)")] = None,
    code: Annotated[str | None, typer.Option(help="promo code the payer types (case-insensitive)")] = None,
    operator: Annotated[str | None, typer.Option(help="only this operator's lines")] = None,
    offer: Annotated[list[str] | None, typer.Option(help="only these offers (repeat the option)")] = None,
    channel: Annotated[list[str] | None, typer.Option(help="only these channels: portal, api, agent, ... (repeat)")] = None,
    line_state: Annotated[list[str] | None, typer.Option(help="only lines in these states: active, grace, "
                                                               "suspended (repeat)")] = None,
    language: Annotated[list[str] | None, typer.Option(help="only lines in these languages: zh_CN, fr, en (repeat)")] = None,
    first_renewal_only: Annotated[bool, typer.Option(help="only a line's first renewal")] = False,
    per_line_limit: Annotated[int | None, typer.Option(help="uses per line")] = None,
    currency: Annotated[str | None, typer.Option(help="of an amount benefit and of --budget, e.g. EUR")] = None,
    stackable: Annotated[bool, typer.Option(help="adds to other campaigns (otherwise the best single one wins)")] = False,
    max_uses: Annotated[int | None, typer.Option(help="budget: number of uses")] = None,
    budget: Annotated[str | None, typer.Option(help="budget: money, e.g. 500.00 (with --currency)")] = None,
) -> None:
    """Create a campaign as a draft (start it with `simkeep promotion start ID`); prints its id."""
    def work(session: Session) -> None:
        actor = staff.acting(session, username=as_, permission=PERMISSION)
        operators, offers = reports.choices(session)
        zone = timezone or next((o[2] for o in operators if o[0] == operator), "Europe/Paris")
        form = dict(name=name, code=code or "", benefit=benefit, benefit_value=value, currency=currency or "",
                    starts=starts, ends=ends, timezone=zone, operator_id=operator or "", offer_ids=offer or [],
                    channels=channel or [], line_states=line_state or [], languages=language or [],
                    first_renewal_only=first_renewal_only, stackable=stackable,
                    per_line_limit="" if per_line_limit is None else str(per_line_limit),
                    max_uses="" if max_uses is None else str(max_uses), budget=budget or "")
        try:
            spec = spec_of(form, operator_ids={o[0] for o in operators}, offer_ids=set(offers))
        except FieldError as exc:
            raise InvalidInput(PROBLEMS.get(exc.field, exc.field)) from None
        p = promotions.create(session, spec, actor=actor, reason=reason, now=clock.now())
        console.print(f"campaign {p.id} ({escape(p.name)}) created as a draft: {_at(p.starts_at, zone)} → "
                      f"{_at(p.ends_at, zone)} {zone}")

    in_transaction(work)


def _change(promotion_id: str, action: str, reason: str, as_: str) -> None:
    def work(session: Session) -> None:
        actor = staff.acting(session, username=as_, permission=PERMISSION)
        p = promotions.change_state(session, promotion_id, action, actor=actor, reason=reason, now=clock.now())
        console.print(f"campaign {p.id} ({escape(p.name)}) is now {p.state}")

    in_transaction(work)


@app.command("start")
def start(promotion_id: Annotated[str, typer.Argument(help="the campaign's id (simkeep promotion list)")],
          reason: Reason, as_: As) -> None:
    """Start a draft campaign: renewals get it from its start time until its end."""
    _change(promotion_id, "start", reason, as_)


@app.command("pause")
def pause(promotion_id: Annotated[str, typer.Argument(help="the campaign's id")], reason: Reason, as_: As) -> None:
    """Pause a running campaign: no new quote or renewal gets it (payments already under way keep their price)."""
    _change(promotion_id, "pause", reason, as_)


@app.command("resume")
def resume(promotion_id: Annotated[str, typer.Argument(help="the campaign's id")], reason: Reason, as_: As) -> None:
    """Resume a paused campaign."""
    _change(promotion_id, "resume", reason, as_)


@app.command("report")
def report(promotion_id: Annotated[str, typer.Argument(help="the campaign's id")]) -> None:
    """A campaign's uses, cost (from its uses and from the ledger's promotion expense), renewals it brought,
    revenue, average discount, by day in its zone; and how many live lines are eligible now."""
    def work(session: Session) -> None:
        p = promotions.get(session, promotion_id)
        r = reports.report(session, p)
        seen = reports.preview(session, p, now=clock.now())
        cur = r.currency
        console.print(f"{escape(p.name)} ({p.state}), {_benefit(p)}", markup=False)
        console.print(f"renewals it brought: {r.renewals}; payments holding it: {r.held}")
        console.print(f"revenue {_money(r.revenue_minor, cur)} (list price {_money(r.list_minor, cur)}); cost "
                      f"{_money(r.cost_minor, cur)}; in the ledger's promotion expense "
                      f"{_money(r.ledger_cost_minor, cur)}{'' if r.ledger_matches else ' (DOES NOT MATCH)'}; "
                      f"average discount {_money(r.average_discount_minor, cur)}; bonus days {r.bonus_days}",
                      markup=False)
        table = Table(f"day ({p.timezone})", "renewals", "cost", "revenue")
        for d in r.days:
            table.add_row(d.day.isoformat(), str(d.uses), _money(d.cost_minor, cur), _money(d.revenue_minor, cur))
        console.print(table)
        states = ", ".join(f"{s} {n}" for s, n in seen.by_state.items())
        console.print(f"eligible now: {seen.total} live lines ({states}); e.g. {', '.join(seen.samples) or '-'}",
                      markup=False)

    in_transaction(work, write=False)
