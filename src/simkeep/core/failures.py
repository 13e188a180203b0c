"""Logging a failure without its message: a SQL error's message quotes the statement's parameters, and a
traceback's local variables may hold what a subscriber typed (a card PIN)."""

from __future__ import annotations

import traceback
from pathlib import Path


def describe(exc: BaseException) -> dict:
    """What to log about a failure: classes and the place, never the message (it may quote SQL parameters)."""
    info: dict = {"error": type(exc).__name__}
    cause = getattr(exc, "orig", None)
    if cause is not None:
        info["cause"] = type(cause).__name__
        if sqlstate := getattr(cause, "sqlstate", None):
            info["sqlstate"] = sqlstate
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        info["where"] = f"{Path(last.filename).name}:{last.lineno} {last.name}"
    return info
