"""`simkeep network drift` and `simkeep network provision`: the drift check and the provisioning outbox by hand
(registered on the `network` command group of admin/network_cli.py by cli.py). The worker does both on its own."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from simkeep.config import get_settings
from simkeep.core import clock
from simkeep.network import drift, service, tasks
from simkeep.terminal import console, database, progress_bar

SHOWN = 50  # differences listed in the terminal (the report counts all; each line's page shows its own)


def drift_cmd(
    repair: Annotated[bool, typer.Option("--repair/--report-only",
                                         help="queue a command that sets the desired state again for each "
                                              "difference, or only report them")] = False,
    operator: Annotated[str | None, typer.Option(help="only this operator's lines")] = None,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="lines per page")] = 500,
) -> None:
    """Compare what the network holds with every line's desired state. Exit 1 if a difference is left unrepaired or
    a line could not be checked (the element down, or it refused the read)."""
    settings, db = get_settings(), database()
    try:
        total = db.read(lambda session: service.count_lines(session, operator_id=operator))
        with progress_bar(unit="lines") as bar:
            task = bar.add_task("drift check", total=total)
            report = drift.check(db, settings, repair=repair, batch=batch, now=clock.now(), operator_id=operator,
                                 progress=lambda lines: bar.advance(task, lines))
    finally:
        tasks.PROCESS_ADAPTERS.close()
        db.dispose()
    summary = Table(title="Drift check", show_header=False)
    for label, value in (("lines", report.lines), ("in sync", report.in_sync), ("different", report.drifted),
                         ("repaired (commands queued)", report.repaired),
                         ("command still to send (not checked)", report.pending),
                         ("element unreachable", report.unreachable), ("changed while checked", report.changed),
                         ("no adapter configured", report.unconfigured), ("read refused", report.errors)):
        summary.add_row(label, f"{value:,}")
    console.print(summary)
    if report.differences:
        listed = Table("line", "operator", "IMSI", "wanted", "found on the network", title="Differences")
        for d in report.differences[:SHOWN]:
            listed.add_row(str(d.line_id), d.operator_id, d.imsi_masked, escape(d.expected), escape(d.found))
        console.print(listed)
        if report.drifted > SHOWN:
            console.print(f"… and {report.drifted - SHOWN:,} more (each line's admin page shows its own).")
    unrepaired = report.drifted - report.repaired
    if unrepaired or report.unreachable or report.errors:
        raise typer.Exit(1)


def provision_cmd(
    limit: Annotated[int, typer.Option(min=1, help="lines per batch")] = 100,
) -> None:
    """Send the provisioning commands due now (the worker does it every round), then stop."""
    settings, db = get_settings(), database()
    claimed = 0
    try:
        while batch := tasks.send_due(db, settings, now=clock.now(), limit=limit):
            claimed += batch
        waiting = db.read(service.pending_count)
    finally:
        tasks.PROCESS_ADAPTERS.close()
        db.dispose()
    console.print(f"{claimed:,} commands tried; {waiting:,} still waiting (retried later, or no adapter).")
