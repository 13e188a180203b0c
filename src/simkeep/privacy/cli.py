"""`simkeep privacy ...`: an access request's archive, a former subscriber's erasure, the retention job by hand, and
the erasures done. Commands act for a named staff member (`--as USERNAME`, role dpo or admin) when given; the audit
log records `staff:<username>`, or `cli` without it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from simkeep.config import get_settings
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.privacy import retention
from simkeep.privacy import service as privacy
from simkeep.staff import service as staff
from simkeep.terminal import console, database, fail

app = typer.Typer(help="Personal data (GDPR): access requests, erasure of former subscribers, retention.",
                  no_args_is_help=True)
Msisdn = Annotated[str | None, typer.Option("--msisdn", help="the number, in any format (06 12 34 56 78, +33...)",
                                            show_default=False)]
Email = Annotated[str | None, typer.Option("--email", help="the e-mail address (any case)", show_default=False)]
LineId = Annotated[str | None, typer.Option("--line", help="one line by its id instead (a former subscriber whose "
                                                          "number has a new holder)", show_default=False)]
As = Annotated[str | None, typer.Option("--as", help="your staff username (role dpo or admin); the audit log names "
                                                     "you", show_default=False)]


def _actor(session, as_: str | None, permission: str) -> str:
    return staff.acting(session, username=as_, permission=permission) if as_ else "cli"


@app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Option("--out", help="the ZIP file to write", dir_okay=False, show_default=False)],
    msisdn: Msisdn = None, email: Email = None, line: LineId = None, as_: As = None,
    reason: Annotated[str, typer.Option(help="why, for the audit log (the request's reference)")] = "access request",
) -> None:
    """Write everything simkeep holds about a number or an e-mail address (every line that ever had it) as one ZIP:
    a JSON document per domain, README.txt in the subscriber's language, the receipts as PDFs. Audited."""
    settings = get_settings()
    try:
        with database().transaction() as session:
            subject = privacy.Subject.parse(msisdn=msisdn, email=email, line_id=line, region=settings.default_region)
            archive = privacy.export(session, subject=subject, reason=reason, now=clock.now(),
                                     actor=_actor(session, as_, "privacy.read"), receipt_key=settings.key("receipt"),
                                     base_url=settings.base_url)
    except SimkeepError as exc:
        fail(exc)
    out.write_bytes(archive.content)
    console.print(f"{archive.lines} line(s); archive written to {escape(str(out))} ({len(archive.content)} bytes)")


@app.command("erase")
def erase_cmd(
    reason: Annotated[str, typer.Option("--reason", help="why, for the audit log (the request's reference)",
                                        show_default=False)],
    msisdn: Msisdn = None, email: Email = None, line: LineId = None, as_: As = None,
    close_line: Annotated[bool, typer.Option("--close-line", help="a line still in service is closed first (its "
                                                                  "balance forfeited); without it, it is refused")]
    = False,
) -> None:
    """Erase a former subscriber's personal data everywhere in one transaction: the number becomes a pseudonym, the
    e-mail goes, messages, SMS, calls, sessions, ID checks and plans are removed; accounting records stay (ten
    years) with the pseudonym. Exit 1 when a line is still in service and --close-line is not given."""
    settings = get_settings()
    try:
        with database().transaction() as session:
            subject = privacy.Subject.parse(msisdn=msisdn, email=email, line_id=line, region=settings.default_region)
            result = privacy.erase(session, subject=subject, reason=reason, close_line=close_line, now=clock.now(),
                                   actor=_actor(session, as_, "privacy.erase"), key=settings.key("privacy"))
    except SimkeepError as exc:
        fail(exc)
    if not result.line_ids and not result.already:
        console.print("no line has this number or e-mail (erased already, or never a subscriber): nothing to do")
        return
    for line_id in result.line_ids:
        console.print(f"line {line_id} erased")
    console.print(f"{len(result.line_ids)} line(s) erased, {result.closed} closed first, {result.already} erased "
                  "before")


@app.command("retention")
def retention_cmd(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what is past its date, change nothing")] = False,
) -> None:
    """Run the retention rules now (the worker runs them daily): delete or blank what is past its period."""
    outcomes = retention.run(database(), get_settings(), now=clock.now(), dry_run=dry_run)
    table = Table("rule", "kept (days)", "would be purged" if dry_run else "purged")
    for outcome in outcomes:
        table.add_row(outcome.rule, str(outcome.days), str(outcome.rows))
    console.print(table)


@app.command("erasures")
def erasures_cmd(limit: Annotated[int, typer.Option(help="how many, newest first")] = 50) -> None:
    """The erasures done, newest first: the line's id, its pseudonym, who and when (no personal data)."""
    with database().transaction(write=False) as session:
        rows = privacy.erasures(session, limit=limit)
    table = Table("erased at (UTC)", "line", "pseudonym", "closed first", "by")
    for row in rows:
        table.add_row(f"{row.erased_at:%Y-%m-%d %H:%M}", str(row.line_id), row.pseudonym,
                      "yes" if row.closed_line else "no", escape(row.erased_by))
    console.print(table)
