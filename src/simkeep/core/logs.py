"""Logs as JSON lines, the same in every process (web server, worker, voice menu).

Every line carries what is bound in structlog's context variables: the web binds `request_id` for each request
(simkeep.ops.requests), rows the request writes for the worker (outbox messages, provisioning commands) keep it,
and the worker binds it again while it works on them, so one id finds the whole story in every process's log.

An exception is written as a plain traceback, never with its frames' local variables: structlog's default console
renderer shows them when `rich` is installed, and a local can be a PIN or a sign-in code."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

REQUEST_ID = "request_id"


def configure(level: str = "info") -> None:
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso"), structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
    )


def current_request_id() -> str | None:
    """The id of the request being served (None in the worker outside a request's rows, in the CLI, in a sweep)."""
    return structlog.contextvars.get_contextvars().get(REQUEST_ID)


@contextmanager
def request_bound(request_id: str | None) -> Iterator[None]:
    """Log (and write rows) as part of request `request_id` inside the block; nothing is bound for None."""
    if request_id is None:
        yield
        return
    with structlog.contextvars.bound_contextvars(**{REQUEST_ID: request_id}):
        yield
