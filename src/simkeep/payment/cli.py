"""`simkeep review …`, `simkeep reconcile …` and `simkeep refund`: payments that need a person or a provider."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from simkeep.config import get_settings
from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.terminal import console, database, fail

review_app = typer.Typer(help="Payments waiting for a person: list and settle them.", no_args_is_help=True)
reconcile_app = typer.Typer(help="Reconciliation with the payment providers.", no_args_is_help=True)


@review_app.command("list")
def review_list() -> None:
    """Payments in the review queue, oldest first."""
    from simkeep.core.money import Money
    from simkeep.payment import review

    table = Table("attempt", "number", "amount", "provider", "method", "why", "since")
    with database().transaction(write=False) as session:
        for a in review.queue(session):
            table.add_row(str(a.id), a.msisdn, Money(a.amount_minor, a.currency).format(), a.provider, a.method,
                          a.failure_reason or "", a.updated_at.isoformat(timespec="minutes"))
    console.print(table)


@review_app.command("settle")
def review_settle(attempt: str, decision: Annotated[str, typer.Option(help="credit | refund | dismiss")],
                  reason: Annotated[str, typer.Option(help="why: goes into the audit log")],
                  actor: Annotated[str, typer.Option(help="who decides")] = os.environ.get("USER", "staff"),
                  key: Annotated[str | None, typer.Option(help="refund only: idempotency key (default: a new one)")]
                  = None) -> None:
    """Credit the line now, refund the payment through its provider, or dismiss it, with a reason for the audit
    log; the payer is told by SMS (a credit with its receipt)."""
    import secrets
    import uuid

    from simkeep.payment import flow, review

    settings = get_settings()
    try:
        if decision == review.REFUND:
            refund = flow.refund_review_item(database(), settings, attempt_id=uuid.UUID(attempt), reason=reason,
                                             actor=actor, idempotency_key=key or f"cli:{secrets.token_urlsafe(16)}")
            console.print(f"{attempt}: refund {refund.id} {refund.status}")
            return
        with database().transaction() as session:
            settled = review.settle(session, attempt_id=uuid.UUID(attempt), decision=decision, reason=reason,
                                    actor=actor, receipt_secret=settings.key("receipt"), base_url=settings.base_url,
                                    now=clock.now())
    except SimkeepError as exc:
        fail(exc)
    console.print(f"{settled.id}: {settled.status}")


# Not a group: simkeep.cli mounts it as the top-level `simkeep refund`.
def refund_cmd(attempt: str, amount_minor: int, reason: Annotated[str, typer.Option(help="goes into the audit log")],
               key: Annotated[str, typer.Option(help="idempotency key: the same key never refunds twice")],
               actor: str = os.environ.get("USER", "staff")) -> None:
    """Refund (part of) a paid top-up through its provider."""
    import uuid

    from simkeep.payment.flow import refund

    try:
        result = refund(database(), get_settings(), attempt_id=uuid.UUID(attempt), amount_minor=amount_minor,
                        reason=reason, actor=actor, idempotency_key=key)
    except SimkeepError as exc:
        fail(exc)
    console.print(f"refund {result.id}: {result.status}")


@reconcile_app.command("run")
def reconcile_run() -> None:
    """Ask the providers about attempts that heard nothing for a while."""
    from simkeep.payment.tasks import reconcile

    console.print(f"{reconcile(database(), get_settings())} attempts checked")


@reconcile_app.command("report")
def reconcile_report(day: Annotated[str | None, typer.Option(help="YYYY-MM-DD (UTC); default today")] = None) -> None:
    """Per provider: captured, refunded, pending and in review, against the ledger's clearing accounts.
    Exits 1 when any difference is not zero."""
    from datetime import date

    from simkeep.core.money import Money
    from simkeep.payment.reconcile import daily_report

    when = date.fromisoformat(day) if day else clock.now().date()
    with database().transaction(write=False) as session:
        report = daily_report(session, day=when)
    table = Table("provider", "captured", "refunded", "pending", "review", "unmatched", "ledger (net in)", "difference")
    for row in report.rows:
        amounts = [Money(minor, row.currency).format() for minor in (
            row.captured_minor, row.refunded_minor, row.pending_minor, row.review_minor, row.unmatched_minor,
            row.ledger_minor)]
        colour = "green" if row.difference_minor == 0 else "red"
        table.add_row(row.provider, *amounts, f"[{colour}]{Money(row.difference_minor, row.currency).format()}[/]")
    console.print(f"reconciliation {when.isoformat()}")
    console.print(table)
    raise typer.Exit(0 if report.balanced else 1)
