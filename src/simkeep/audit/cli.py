"""`simkeep audit ...`: check the audit log's hash chain, read it, and export it for auditors. Read-only: no
command (and no page or API) changes or removes an entry. Instants are UTC."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Row

from simkeep.audit import chain, service
from simkeep.audit.service import Break, Filters
from simkeep.core.errors import InvalidInput
from simkeep.terminal import console, database, err, fail, progress_bar

app = typer.Typer(help="The audit log: who did what, when and why, hash-chained so that a change is found.",
                  no_args_is_help=True)
COLUMNS = ["seq", "id", "at", "actor", "action", "subject_type", "subject_id", "reason", "details", "prev_hash",
           "hash"]


@app.command("verify")
def verify_cmd(expect_head: Annotated[str | None, typer.Option(
        "--expect-head", help="a head hash printed by an earlier verify and kept elsewhere: fail if the chain no "
                              "longer reaches it (entries removed from the end)", show_default=False)] = None) -> None:
    """Recompute the hash chain from the first entry to the last. Exit 0 and print the head hash (write it down or
    ship it elsewhere, then pass it to --expect-head later), or exit 1 naming the first entry where the chain
    breaks: content altered, previous hash mismatch, seq gap, or row missing."""
    with database().transaction(write=False) as session:
        total = service.count(session)
        with progress_bar(disable=total <= service.PAGE, unit="entries") as bar:
            task = bar.add_task("verifying", total=total)
            verdict = service.verify(session, expect_head=expect_head, progress=lambda done: bar.advance(task, done))
    if verdict.broken:
        err.print(f"[red]chain broken[/red] {escape(describe(verdict.broken))}", soft_wrap=True)
        console.print(f"{verdict.entries} entries verified before the break", soft_wrap=True)
        raise typer.Exit(1)
    head = f"head hash {verdict.head_hash}, seq {verdict.head_seq}" if verdict.head_hash else "empty log"
    console.print(f"{verdict.entries} entries, chain intact ({head})", soft_wrap=True)


def describe(broken: Break) -> str:
    """One line an operator can act on: which entry, and what is wrong with it."""
    where = f"seq {broken.seq} (id {broken.id}, at {chain.instant(broken.at)})" if broken.at else "the log"
    match broken.problem:
        case "content_altered":
            return (f"{where}: content altered: its content hashes to {broken.expected}, the entry holds "
                    f"{broken.found}")
        case "previous_hash_mismatch":
            return (f"{where}: previous hash mismatch: it names {broken.found}, the entry before it hashes to "
                    f"{broken.expected} (that entry was rewritten, replaced or slipped in)")
        case "seq_gap":
            first, last = int(broken.expected), int(broken.found) - 1
            gone = f"entry {first} is" if first == last else f"entries {first} to {last} are"
            return f"{where}: seq gap: {gone} missing"
        case _:
            return (f"{where}: row missing: the anchored head {broken.expected} is not in the chain, which ends at "
                    f"{broken.found or 'nothing'} (entries were removed from the end)")


@app.command("list")
def list_cmd(actor: Annotated[str | None, typer.Option(help="who, as recorded: staff:alice, cli:root...",
                                                       show_default=False)] = None,
             action: Annotated[str | None, typer.Option(help="refund.requested, or a prefix: voucher",
                                                        show_default=False)] = None,
             subject: Annotated[str | None, typer.Option(help="a subject's id: a line's UUID, a store's code...",
                                                         show_default=False)] = None,
             since: Annotated[str | None, typer.Option(help="from this day or instant (UTC), YYYY-MM-DD[THH:MM]",
                                                       show_default=False)] = None,
             until: Annotated[str | None, typer.Option(help="to this day (included) or instant (UTC)",
                                                       show_default=False)] = None,
             limit: Annotated[int, typer.Option(min=1, max=10_000, help="newest entries shown")] = 50) -> None:
    """The newest entries first, with their seq and the start of their hash."""
    filters = _filters(actor, action, subject, since, until)
    with database().transaction(write=False) as session:
        entries = service.newest_first(session, filters, limit=limit)
    table = Table("seq", "at", "actor", "action", "subject", "reason", "hash")
    for column in table.columns:
        column.overflow = "fold"
    for entry in entries:
        table.add_row(str(entry.seq), chain.instant(entry.at), escape(entry.actor), escape(entry.action),
                      escape(f"{entry.subject_type}:{entry.subject_id}"), escape(entry.reason), entry.hash[:12])
    console.print(table if entries else "no entries")


@app.command("export")
def export_cmd(from_: Annotated[str | None, typer.Option("--from", help="first day (UTC), YYYY-MM-DD",
                                                         show_default=False)] = None,
               to: Annotated[str | None, typer.Option(help="last day (UTC, included), YYYY-MM-DD",
                                                      show_default=False)] = None,
               format_: Annotated[str, typer.Option("--format", help="csv | jsonl")] = "csv",
               output: Annotated[Path | None, typer.Option(help="file to write (default: standard output)",
                                                           show_default=False)] = None) -> None:
    """Every entry of the period in chain order, with its hashes, for an auditor: CSV (details as JSON) or JSON
    lines. With the hashes an auditor can recompute the chain (see README, "The audit log")."""
    if format_ not in ("csv", "jsonl"):
        fail(InvalidInput(f"--format {format_!r}: csv or jsonl"))
    filters = _filters(None, None, None, from_, to)
    with database().transaction(write=False) as session:
        if output:
            with output.open("w", encoding="utf-8", newline="") as file:
                written = _write(file, service.export(session, filters), format_)
            err.print(f"{written} entries written to {escape(str(output))}", soft_wrap=True)
        else:
            _write(sys.stdout, service.export(session, filters), format_)


def _write(file: TextIO, entries: Iterable[Row[Any]], format_: str) -> int:
    written = 0
    writer = csv.writer(file) if format_ == "csv" else None
    if writer:
        writer.writerow(COLUMNS)
    for entry in entries:
        row = _row(entry)
        if writer:
            writer.writerow([json.dumps(row[c], ensure_ascii=False, sort_keys=True) if c == "details" else row[c]
                             for c in COLUMNS])
        else:
            file.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        written += 1
    return written


def _row(entry: Row[Any]) -> dict:
    return dict(seq=entry.seq, id=str(entry.id), at=chain.instant(entry.at), actor=entry.actor, action=entry.action,
                subject_type=entry.subject_type, subject_id=entry.subject_id, reason=entry.reason,
                details=entry.details, prev_hash=entry.prev_hash, hash=entry.hash)


def _filters(actor: str | None, action: str | None, subject: str | None, since: str | None,
             until: str | None) -> Filters:
    try:
        return Filters(actor=actor, action=action, subject=subject, since=_instant(since, end=False),
                       until=_instant(until, end=True))
    except InvalidInput as exc:
        fail(exc)


def _instant(text: str | None, *, end: bool) -> datetime | None:
    """A day (YYYY-MM-DD: its start, or for an end the next day's start, so the day is included) or an instant,
    in UTC."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a day (YYYY-MM-DD) or an instant (YYYY-MM-DDTHH:MM)") from None
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
