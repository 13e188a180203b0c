"""uvicorn, optionally as several processes sharing one port with SO_REUSEPORT: the kernel spreads
keep-alive connections across them, which `uvicorn --workers` did not (DESIGN §6).

Several processes are run by a `Supervisor` (also used by `simkeep run` for the worker and the server): a child
that dies is replaced, after a backoff that doubles while children keep dying young, so one that fails at once
does not spin; SIGTERM or SIGINT stops the supervisor taking new work, is passed on to every child as SIGTERM
(uvicorn drains: it stops accepting, finishes the requests in flight, at most `shutdown_grace_seconds`), and the
supervisor exits 0 once they are gone, killing any that outlive the grace. Children ask the kernel for SIGTERM
when the supervisor dies (PR_SET_PDEATHSIG on Linux), so even a SIGKILLed supervisor leaves nobody serving.
"""

from __future__ import annotations

import ctypes
import errno
import math
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache

import structlog
import uvicorn

from simkeep.config import Settings

log = structlog.get_logger()
PR_SET_PDEATHSIG = 1


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _serve_one(host: str, port: int, grace: float) -> None:
    """One process serving until SIGTERM/SIGINT, then uvicorn's graceful shutdown bounded by `grace`."""
    config = uvicorn.Config("simkeep.main:app_factory", factory=True, host=host, port=port,
                            access_log=False, log_level="warning", backlog=2048,
                            timeout_graceful_shutdown=math.ceil(grace))  # whole seconds; the supervisor's is exact
    # uvicorn drains on SIGTERM/SIGINT, then re-raises the signal to the handler it found; a no-op one makes a
    # requested, completed shutdown exit 0 instead of dying by the signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    uvicorn.Server(config).run(sockets=[_bind(host, port)])


def serve(settings: Settings, *, workers: int = 1) -> int:
    """Serve in this process (workers=1), or supervise `workers` processes; returns the exit code."""
    grace = settings.shutdown_grace_seconds
    if workers <= 1:
        _serve_one(settings.host, settings.port, grace)
        return 0
    try:  # a port taken by another program (or not ours to bind) is a fault to report, not to retry forever
        _bind(settings.host, settings.port).close()
    except OSError as exc:
        log.error("server.bind_failed", host=settings.host, port=settings.port, error=type(exc).__name__,
                  errno=errno.errorcode.get(exc.errno or 0, exc.errno))
        return 1
    command = [sys.executable, "-m", "simkeep", "serve", "--workers", "1"]
    children = [Child(f"server-{n}", command) for n in range(1, workers + 1)]
    return Supervisor(children, grace=grace).run()


@dataclass
class Child:
    """One supervised command; `env` None inherits the supervisor's environment."""

    name: str
    command: list[str]
    env: dict[str, str] | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)
    started_at: float = 0.0
    restart_at: float | None = None
    failures: int = 0  # deaths in a row, each before the child had run `stable_after` seconds


class Supervisor:
    """Start every child, replace the dead, stop them all on SIGTERM/SIGINT. Single-threaded on purpose: the
    children are forked with a pre-exec hook, which is only safe without other threads."""

    def __init__(self, children: list[Child], *, grace: float = 20.0, backoff_min: float = 0.5,
                 backoff_max: float = 30.0, stable_after: float = 10.0, poll: float = 0.2) -> None:
        self.children = children
        self.grace, self.poll = grace, poll
        self.backoff_min, self.backoff_max, self.stable_after = backoff_min, backoff_max, stable_after
        self.stopping: int | None = None  # the signal that asked us to stop

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        log.info("supervisor.started", pid=os.getpid(), children=[c.name for c in self.children])
        try:
            for child in self.children:
                self._start(child)
            while self.stopping is None:
                self._tick(time.monotonic())
                time.sleep(self.poll)
            log.info("supervisor.stopping", signal=signal.Signals(self.stopping).name)
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("supervisor.stopped")
        return 0

    def _stop(self, signum, _frame) -> None:
        if self.stopping is None:
            self.stopping = signum

    def _tick(self, now: float) -> None:
        for child in self.children:
            if child.proc is not None and child.proc.poll() is not None:
                self._died(child, now)
            if child.proc is None and child.restart_at is not None and now >= child.restart_at:
                self._start(child)

    def _died(self, child: Child, now: float) -> None:
        lived = now - child.started_at
        child.failures = child.failures + 1 if lived < self.stable_after else 1
        delay = min(self.backoff_max, self.backoff_min * 2 ** (child.failures - 1))
        proc = child.proc
        assert proc is not None  # _tick calls this for a child whose process ended
        code = proc.returncode
        log.warning("supervisor.child_died", child=child.name, pid=proc.pid,
                    exit=signal.Signals(-code).name if code < 0 else code, lived_s=round(lived, 1),
                    restart_in_s=delay)
        child.proc, child.restart_at = None, now + delay

    def _start(self, child: Child) -> None:
        if self.stopping is not None:
            return
        parent, prctl = os.getpid(), _prctl()  # resolved here: the child runs only async-signal-safe calls
        child.proc = subprocess.Popen(child.command, env=child.env, preexec_fn=lambda: _child_setup(parent, prctl))
        child.started_at, child.restart_at = time.monotonic(), None
        log.info("supervisor.child_started", child=child.name, pid=child.proc.pid)

    def _stop_all(self) -> None:
        running = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)  # a no-op for one already reaped
        deadline = time.monotonic() + self.grace + 5  # uvicorn's own bound, plus its shutdown hooks
        for proc in running:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("supervisor.child_killed", pid=proc.pid, reason="outlived the grace period")
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        for child in self.children:
            child.proc = None


@lru_cache(maxsize=1)
def _prctl():
    """libc's prctl on Linux; None elsewhere, where only the supervisor's own SIGTERM stops the children."""
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(None, use_errno=True).prctl


def _child_setup(parent: int, prctl) -> None:
    """Runs in the child between fork and exec. Its own process group, so a terminal's Ctrl+C reaches only the
    supervisor, which passes one SIGTERM on (a second signal would make uvicorn skip draining); and SIGTERM from
    the kernel when the supervisor dies, even by SIGKILL."""
    os.setpgid(0, 0)
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the supervisor died before the request above took effect
            os._exit(1)
