"""What every `simkeep` command prints and fails with: shared by cli.py and the domain cli modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from simkeep.config import get_settings
from simkeep.core.errors import SimkeepError
from simkeep.db import Database

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")
console = Console()
err = Console(stderr=True)


def database() -> Database:
    return Database(get_settings().db_url)


def fail(exc: SimkeepError) -> NoReturn:
    """Print the error's code and message and exit 1."""
    err.print(f"[red]error[/red] {exc.code}: {exc.message}")
    raise typer.Exit(1)


def in_transaction(work: Callable[[Session], T], *, write: bool = True) -> T:
    """One transaction for a command; a SimkeepError prints its code and message and exits 1 with nothing changed."""
    try:
        with database().transaction(write=write) as session:
            return work(session)
    except SimkeepError as exc:
        fail(exc)


def progress_bar(disable: bool = False, *, unit: str | None = None) -> Progress:
    """A bar on stderr: done / total and time elapsed; with `unit`, also the rate (units per second) and the time
    left, for long jobs such as a million vouchers."""
    columns: list[ProgressColumn | str] = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns += [RateColumn(unit), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn()]
    else:
        columns.append(TimeElapsedColumn())
    return Progress(*columns, console=err, transient=False, disable=disable)


class RateColumn(ProgressColumn):
    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} {self.unit}/s" if speed else f"- {self.unit}/s", style="progress.data.speed")
