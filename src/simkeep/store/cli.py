"""`simkeep store ...`: the store directory (import, list), a store's people and PINs, drawers and statements.

Commands that change something act for a named staff member (`--as USERNAME`) whose role has the permission; the
audit log records `staff:<username>` and the reason."""

from __future__ import annotations

import typer

app = typer.Typer(help="Stores: the directory, store staff and PINs, statements.", no_args_is_help=True)
