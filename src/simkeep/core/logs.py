"""Logs as JSON lines, the same in every process (web server, worker, voice menu).

An exception is written as a plain traceback, never with its frames' local variables: structlog's default console
renderer shows them when `rich` is installed, and a local can be a PIN or a sign-in code."""

from __future__ import annotations

import logging

import structlog


def configure(level: str = "info") -> None:
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso"),
                    structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
    )
