"""Worker job: send due provisioning commands to the network, one transaction to claim, one per outcome.

No transaction is open during a network call (DESIGN §3.2, §7): the claim (a lease) is committed first, so a worker
killed mid-send leaves a lease that runs out, and the command is sent again (each command sets the whole state, so
a second apply changes nothing). A batch stops once half its lease is spent and hands the rest back, so every send
starts with at least half a lease left: adapters' timeouts must stay well inside it (network_lease_seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime

import structlog

from simkeep.config import Settings
from simkeep.core.logs import request_bound
from simkeep.core.phone import masked
from simkeep.db import Database
from simkeep.network import outbox
from simkeep.network.adapters import Held, Provisioner, Rejected, Unavailable, open_provisioner, url_for
from simkeep.network.service import mask_imsi

log = structlog.get_logger()
Opener = Callable[[str, Settings], Provisioner]


class Adapters:
    """One adapter per URL for the process, opened when first needed. One that lost its element (Unavailable) is
    closed and opened afresh on its next use, so no adapter has to heal a broken connection by itself."""

    def __init__(self, opener: Opener = open_provisioner) -> None:
        self._opener = opener
        self._open: dict[str, Provisioner] = {}

    def get(self, url: str, settings: Settings) -> Provisioner:
        if url not in self._open:
            self._open[url] = self._opener(url, settings)
        return self._open[url]

    def drop(self, url: str) -> None:
        adapter = self._open.pop(url, None)
        if adapter is not None:
            with suppress(Exception):  # it is broken already: closing is a courtesy
                adapter.close()

    def close(self) -> None:
        for url in list(self._open):
            self.drop(url)


PROCESS_ADAPTERS = Adapters()  # the worker's and the CLI's; closed when they stop


def send_due(db: Database, settings: Settings, *, now: datetime, limit: int = 100, adapters: Adapters | None = None,
             stopping: Callable[[], bool] = lambda: False) -> int:
    """Claim the next command of up to `limit` lines and send them; returns how many were claimed. An element that
    is down is not tried again in the same batch: its other commands are recorded as failed with the same reason."""
    adapters = adapters or PROCESS_ADAPTERS
    lease = settings.network_lease_seconds
    with db.transaction() as session:
        claimed = outbox.claim_due(session, now=now, limit=limit, lease_seconds=lease,
                                   routed=lambda operator_id: url_for(settings, operator_id) is not None,
                                   unrouted_retry_seconds=settings.network_retry_max_seconds)
    started, untried = time.monotonic(), list(claimed)
    down: dict[str, str] = {}
    try:
        for command in claimed:
            if stopping() or time.monotonic() - started > lease / 2:
                break
            untried.remove(command)
            with request_bound(command.request_id):  # logged under the id of the request that wrote it
                _send(db, settings, adapters, command, down, now=now)
    finally:
        if untried:
            # best effort: if the database is gone, the leases run out instead
            with suppress(Exception), db.transaction() as session:
                outbox.release(session, untried)
    return len(claimed)


def _send(db: Database, settings: Settings, adapters: Adapters, command: outbox.Claimed, down: dict[str, str], *,
          now: datetime) -> None:
    url = url_for(settings, command.operator_id) or ""
    error = down.get(url)
    if error is None:
        error = _apply(settings, adapters, url, command, down)
    if error is None:
        with db.transaction() as session:
            recorded = outbox.record_done(session, command, now=now)
        log.info("network.command_sent", imsi=mask_imsi(command.imsi), seq=command.seq, mode=command.mode,
                 reason=command.reason, attempt=command.attempts + 1, lease_lost=not recorded)
        return
    retry = outbox.retry_at(now, command.attempts + 1, base=settings.network_retry_seconds,
                            cap=settings.network_retry_max_seconds)
    with db.transaction() as session:
        outbox.record_failure(session, command, error=error, retry_at=retry)


def _apply(settings: Settings, adapters: Adapters, url: str, command: outbox.Claimed,
           down: dict[str, str]) -> str | None:
    """Send one command; the error to record if it did not go through (None: the network holds it now)."""
    fields = {"imsi": mask_imsi(command.imsi), "seq": command.seq, "mode": command.mode,
              "attempt": command.attempts + 1}
    try:
        adapters.get(url, settings).apply(Held(command.imsi, command.msisdn, command.mode))
        return None
    except Rejected as exc:
        error = f"rejected: {_scrub(str(exc), command)}"
        log.error("network.command_rejected", error=error, **fields)
        return error
    except (Unavailable, OSError) as exc:  # OSError: a socket error an adapter did not wrap
        adapters.drop(url)
        down[url] = error = f"unavailable: {_scrub(str(exc), command)}"
        log.warning("network.element_unavailable", error=error, **fields)
        return error
    except Exception as exc:  # an adapter's bug or a bad URL: recorded and retried, never a busy loop
        adapters.drop(url)
        error = f"{type(exc).__name__}: {_scrub(str(exc), command)}"
        log.error("network.adapter_failed", error=error, **fields)
        return error


def _scrub(text: str, command: outbox.Claimed) -> str:
    """An element's message may quote the subscriber back: never a full IMSI or MSISDN in a log or on a page."""
    text = text.replace(command.imsi, mask_imsi(command.imsi))
    return text.replace(command.msisdn, masked(command.msisdn)) if command.msisdn else text
