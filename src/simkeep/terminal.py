"""What every `simkeep` command prints and fails with: shared by cli.py and the domain cli modules."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from simkeep.config import get_settings
from simkeep.core.errors import SimkeepError
from simkeep.db import Database

console = Console()
err = Console(stderr=True)


def database() -> Database:
    return Database(get_settings().db_url)


def fail(exc: SimkeepError) -> None:
    """Print the error's code and message and exit 1."""
    err.print(f"[red]error[/red] {exc.code}: {exc.message}")
    raise typer.Exit(1)


def progress_bar(disable: bool = False) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=False, disable=disable)
