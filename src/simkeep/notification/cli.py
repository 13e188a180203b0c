"""`simkeep endpoint …` and `simkeep messages …`: webhook subscribers and the message log."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from simkeep.core import clock
from simkeep.core.errors import SimkeepError
from simkeep.terminal import console, database, fail

endpoint_app = typer.Typer(help="Operator systems that receive signed events.", no_args_is_help=True)
messages_app = typer.Typer(help="The message log: SMS, e-mail, events and webhooks.", no_args_is_help=True)


@endpoint_app.command("add")
def endpoint_add(url: str, topic: Annotated[list[str], typer.Option(help="topup.completed, payment.refunded, line.state_changed")]) -> None:
    """Subscribe a URL to events; prints the signing secret once."""
    from simkeep.notification import events

    try:
        with database().transaction() as session:
            endpoint, secret = events.add_endpoint(session, url=url, topics=topic, now=clock.now())
    except SimkeepError as exc:
        fail(exc)
    console.print(f"endpoint {endpoint.id} for {', '.join(endpoint.topics)}; signing secret (shown once):")
    print(secret)


@messages_app.command("list")
def messages_list(status: Annotated[str | None, typer.Option(help="pending | sent | failed")] = None,
                  limit: int = 30) -> None:
    """The latest messages with their status, attempts and last error."""
    from simkeep.notification import service

    table = Table("id", "topic", "channel", "to", "status", "attempts", "last error", "created")
    with database().transaction(write=False) as session:
        for m in service.recent(session, status=status, limit=limit):
            table.add_row(str(m.id), m.topic, m.channel, m.recipient, m.status, str(m.attempts), m.last_error or "",
                          m.created_at.isoformat(timespec="seconds"))
    console.print(table)


@messages_app.command("show")
def messages_show(message_id: str) -> None:
    """One message's delivery log: every attempt and what the receiver answered."""
    import uuid

    from simkeep.notification import service

    with database().transaction(write=False) as session:
        log = service.delivery_log(session, uuid.UUID(message_id))
    table = Table("attempt", "outcome", "detail", "at")
    for entry in log:
        table.add_row(str(entry.attempt), entry.outcome, entry.detail or "", entry.at.isoformat(timespec="seconds"))
    console.print(table)
