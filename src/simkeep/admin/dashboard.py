"""The dashboard: each chart of report.service drawn with ECharts (static/dashboard.js reads the page's JSON data
block: the CSP allows no inline script), shown as a table, and downloadable as CSV with the same filters.

Filters: one operator or all, and a period of whole business days (from/to, or the last 7, 30 or 90 days); the
days are the operator's business days (report.service says which zone when all operators are shown)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from simkeep.admin.access import StaffMember, allowed
from simkeep.core import clock
from simkeep.core.errors import InvalidInput
from simkeep.core.money import Money, minor_digits
from simkeep.locale import languages
from simkeep.report import service as report
from simkeep.web.deps import Db
from simkeep.web.pages import N_, Lang, error_text, reader_zone, render

router = APIRouter(prefix="/admin", include_in_schema=False)
Reader = Annotated[StaffMember, Depends(allowed("dashboard.read"))]
OperatorId = Annotated[str | None, Query(alias="operator", max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")]
FromDay = Annotated[date | None, Query(alias="from")]
ToDay = Annotated[date | None, Query(alias="to")]
Days = Annotated[int | None, Query(ge=1, le=report.MAX_DAYS)]

# Cell kinds: how a value is shown (the table, per locale) and written (the CSV, plain).
TEXT, LABEL, DAY, COUNT, MONEY, SHARE, INSTANT = "text", "label", "day", "count", "money", "share", "instant"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    kind: str


@dataclass(frozen=True, slots=True)
class Chart:
    name: str
    title: str
    note: str
    columns: tuple[Column, ...]


CHARTS = {chart.name: chart for chart in (
    Chart("renewals", N_("Renewals per day"), N_("Top-ups by channel and by payment method."),
          (Column("day", N_("Day"), DAY), Column("channel", N_("Channel"), LABEL),
           Column("method", N_("Payment method"), LABEL), Column("renewals", N_("Renewals"), COUNT))),
    Chart("revenue", N_("Sales and promotion cost"),
          N_("Price paid for renewals, and the bonus credit and discounts given with them (the ledger's top-up "
             "entries). A renewal refunded later still counts on the day it was sold."),
          (Column("day", N_("Day"), DAY), Column("currency", N_("Currency"), TEXT),
           Column("renewals", N_("Renewals"), COUNT), Column("sales_minor", N_("Sales"), MONEY),
           Column("promotion_minor", N_("Promotion cost"), MONEY))),
    Chart("at_risk", N_("Numbers at risk"),
          N_("Lines in service by whole days left before their number-loss date, as of now."),
          (Column("bucket", N_("Days left"), LABEL), Column("lines", N_("Lines"), COUNT))),
    Chart("losses", N_("Numbers lost and returned to the pool"),
          N_("Lines deactivated (the number is lost) and numbers made available again, per day."),
          (Column("day", N_("Day"), DAY), Column("state", N_("Event"), LABEL), Column("lines", N_("Lines"), COUNT))),
    Chart("conversion", N_("Reminder → renewal conversion"),
          N_("SMS reminders sent in the period, and the share followed by a renewal of the line within 7 days."),
          (Column("days_before", N_("Days before number loss"), COUNT), Column("language", N_("Language"), LABEL),
           Column("reminders", N_("Reminders"), COUNT), Column("renewed", N_("Renewed"), COUNT),
           Column("rate", N_("Conversion"), SHARE))),
    Chart("payments", N_("Payment success per provider"),
          N_("Payment attempts started in the period; the success rate counts the attempts with an outcome."),
          (Column("provider", N_("Provider"), LABEL), Column("attempted", N_("Attempts"), COUNT),
           Column("succeeded", N_("Succeeded"), COUNT), Column("failed", N_("Failed"), COUNT),
           Column("abandoned", N_("Abandoned"), COUNT), Column("reviewed", N_("Sent to review"), COUNT),
           Column("open", N_("Still open"), COUNT), Column("rate", N_("Success rate"), SHARE))),
    Chart("review_age", N_("Review queue age"), N_("Open review items by how long they have waited, as of now."),
          (Column("bucket", N_("Waiting"), LABEL), Column("items", N_("Items"), COUNT),
           Column("oldest", N_("Oldest since"), INSTANT))),
)}

LABELS = {
    # channels and payment methods
    "portal": N_("Web portal"), "voucher": N_("Recharge card"), "agent": N_("Store"), "ivr": N_("Hotline"),
    "sms": N_("SMS"), "api": N_("API"), "auto_renew": N_("Auto-renew"), "reseller": N_("Reseller"),
    "card": N_("Card"), "paypal": N_("PayPal"), "bank_transfer": N_("Bank transfer"), "wechat_pay": N_("WeChat Pay"),
    "alipay": N_("Alipay"), "sandbox": N_("Sandbox"), "stripe": N_("Stripe"), "sepa": N_("SEPA"),
    # events and buckets
    "deactivated": N_("Numbers lost"), "available": N_("Returned to the pool"),
    "0-7": N_("0–7 days"), "8-30": N_("8–30 days"), "31-90": N_("31–90 days"),
    "under_1": N_("Under a day"), "1-3": N_("1–3 days"), "3-7": N_("3–7 days"), "over_7": N_("7 days or more"),
    # languages
    "fr": N_("French"), "en": N_("English"), "zh_CN": N_("Chinese"),
}


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, db: Db, lang: Lang, member: Reader, operator_id: OperatorId = None,
              from_day: FromDay = None, to_day: ToDay = None, days: Days = None) -> Response:
    with db.transaction(write=False) as session:
        operators = report.operators(session)
        try:
            chosen = _period(request, operators, operator_id, from_day, to_day, days)
        except InvalidInput as exc:
            return render(request, "admin/dashboard.html", status=exc.status, error=error_text(lang, exc.code),
                          operators=operators, period=None, charts=[], presets=report.PRESETS, staff=member.username,
                          filters=_filters(operator_id, from_day, to_day, days), labels=LABELS)
        tables = {name: _table(session, name, chosen, operators) for name in CHARTS}
    return render(request, "admin/dashboard.html", operators=operators, period=chosen, presets=report.PRESETS,
                  charts=[(CHARTS[name], rows) for name, rows in tables.items()], labels=LABELS,
                  data={name: _drawing(name, rows, lang) for name, rows in tables.items()},
                  staff=member.username, tz=reader_zone(request), filters=_filters(operator_id, from_day, to_day,
                                                                                   days),
                  query=_query(chosen), error=None)


@router.get("/dashboard/{chart}.csv")
def chart_csv(request: Request, db: Db, lang: Lang, member: Reader,
              chart: Annotated[str, Path(pattern=f"^({'|'.join(CHARTS)})$")], operator_id: OperatorId = None,
              from_day: FromDay = None, to_day: ToDay = None, days: Days = None) -> Response:
    with db.transaction(write=False) as session:
        operators = report.operators(session)
        try:
            chosen = _period(request, operators, operator_id, from_day, to_day, days)
        except InvalidInput as exc:
            return render(request, "portal/error.html", status=exc.status, error=error_text(lang, exc.code))
        rows = _table(session, chart, chosen, operators)
    name = f"{chart}_{chosen.operator_id or 'all'}_{chosen.first_day}_{chosen.last_day}.csv"
    return Response(_csv(CHARTS[chart], rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _period(request: Request, operators: list, operator_id: str | None, from_day: date | None, to_day: date | None,
            days: int | None) -> report.Period:
    return report.period(operators, operator_id=operator_id or None, first_day=from_day, last_day=to_day, days=days,
                         reader_zone=reader_zone(request), today=clock.now())


def _table(session: Session, chart: str, period: report.Period, operators: list) -> list[dict[str, Any]]:
    """The chart's rows as dicts of its columns (derived shares added): what the table, the CSV and the chart
    show."""
    now = clock.now()
    queries: dict[str, Callable[[], list]] = {
        "renewals": lambda: report.renewals(session, period),
        "revenue": lambda: report.revenue(session, period, sorted({op.currency for op in operators})),
        "at_risk": lambda: report.at_risk(session, operator_id=period.operator_id, now=now),
        "losses": lambda: report.losses(session, period),
        "conversion": lambda: report.conversion(session, period),
        "payments": lambda: report.payments(session, period),
        "review_age": lambda: report.review_age(session, operator_id=period.operator_id, now=now),
    }
    keys = [column.key for column in CHARTS[chart].columns]
    rows = [row._asdict() if hasattr(row, "_asdict") else dict(zip(keys, row, strict=False))
            for row in queries[chart]()]
    for row in rows:
        if "day" in row:
            row["day"] = date.fromisoformat(row["day"])
        if chart == "conversion":
            row["rate"] = _share(row["renewed"], row["reminders"])
        elif chart == "payments":
            row["rate"] = _share(row["succeeded"], row["settled"])
    return rows


def _share(part: int, whole: int) -> int | None:
    """In basis points (the `percent` filter's unit), rounded half up; None when there is nothing to divide."""
    return (part * 10_000 * 2 + whole) // (whole * 2) if whole else None


def _csv(chart: Chart, rows: list[dict[str, Any]]) -> str:
    """Plain values a spreadsheet reads: ISO days and instants, amounts in major units with their currency,
    shares as percentages with two decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([column.key.removesuffix("_minor") for column in chart.columns])
    for row in rows:
        writer.writerow([_plain(column, row) for column in chart.columns])
    return out.getvalue()


def _plain(column: Column, row: dict[str, Any]) -> str:
    value = row[column.key]
    if value is None:
        return ""
    if column.kind == MONEY:
        return str(Money(int(value), row["currency"]).as_decimal())
    if column.kind == SHARE:
        return f"{value / 100:.2f}"
    if column.kind == INSTANT:
        return value.isoformat()
    return str(value)


def _filters(operator_id: str | None, from_day: date | None, to_day: date | None, days: int | None) -> dict:
    return {"operator": operator_id or "", "from": from_day.isoformat() if from_day else "",
            "to": to_day.isoformat() if to_day else "", "days": days}


def _query(period: report.Period) -> str:
    """The filters as a query string for the CSV links: the period's actual days, so a download matches the page."""
    operator = f"operator={period.operator_id}&" if period.operator_id else ""
    return f"{operator}from={period.first_day.isoformat()}&to={period.last_day.isoformat()}"


def _drawing(chart: str, rows: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """What static/dashboard.js draws: one or two plots per chart, each with its x axis, its series (labels
    translated here) and its unit. The rows are the query's few output rows, pivoted for the plot."""
    def label(value: Any) -> str:
        return languages.gettext(lang, LABELS[value]) if value in LABELS else str(value)

    def text(message: str) -> str:
        return languages.gettext(lang, message)

    days = sorted({row["day"].isoformat() for row in rows if "day" in row})
    if chart == "renewals":
        return [_pivot(rows, days, "channel", "renewals", label, stack=True),
                _pivot(rows, days, "method", "renewals", label, stack=True)]
    if chart == "revenue":
        plots = []
        for currency in sorted({row["currency"] for row in rows}):
            mine = [row for row in rows if row["currency"] == currency]
            scale = 10 ** minor_digits(currency)
            plots.append({"kind": "line", "x": days, "unit": "money", "currency": currency, "series": [
                {"name": text(title), "data": _by_day(mine, days, key, scale)}
                for key, title in (("sales_minor", "Sales"), ("promotion_minor", "Promotion cost"))]})
        return plots
    if chart == "losses":
        return [_pivot(rows, days, "state", "lines", label, stack=False)]
    if chart == "conversion":
        offsets = sorted({row["days_before"] for row in rows}, reverse=True)
        return [{"kind": "bar", "unit": "percent", "x": [str(offset) for offset in offsets], "series": [
            {"name": label(language), "data": [next((r["rate"] / 100 for r in rows if r["days_before"] == offset
                                                     and r["language"] == language and r["rate"] is not None), None)
                                               for offset in offsets]}
            for language in sorted({row["language"] for row in rows})]}]
    if chart == "payments":
        return [{"kind": "bar", "unit": "percent", "x": [label(row["provider"]) for row in rows],
                 "series": [{"name": text("Success rate"),
                             "data": [row["rate"] / 100 if row["rate"] is not None else None for row in rows]}]}]
    key = {"at_risk": "lines", "review_age": "items"}[chart]
    title = {"at_risk": "Lines", "review_age": "Items"}[chart]
    return [{"kind": "bar", "unit": "count", "x": [label(row["bucket"]) for row in rows],
             "series": [{"name": text(title), "data": [row[key] for row in rows]}]}]


def _pivot(rows: list[dict[str, Any]], days: list[str], by: str, value: str, label: Callable[[Any], str], *,
           stack: bool) -> dict[str, Any]:
    groups = sorted({row[by] for row in rows})
    return {"kind": "bar", "stack": stack, "unit": "count", "x": days, "series": [
        {"name": label(group), "data": _by_day([row for row in rows if row[by] == group], days, value, 1)}
        for group in groups]}


def _by_day(rows: list[dict[str, Any]], days: list[str], key: str, scale: int) -> list[float | int]:
    totals = dict.fromkeys(days, 0)
    for row in rows:
        totals[row["day"].isoformat()] += row[key]
    return [total / scale if scale != 1 else total for total in totals.values()]
