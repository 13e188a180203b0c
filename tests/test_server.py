"""`simkeep serve --workers 2` and `simkeep run` as an operator's machine treats them: a child killed (replaced, and
requests keep succeeding), SIGTERM (every process gone, the port free, exit 0, a request in flight finished), the
supervisor itself killed with SIGKILL (its children follow)."""

import contextlib
import itertools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from simkeep.server import Child, Supervisor
from tests.conftest import ADMIN_TOKEN, PG_URL
from tests.processes import (
    alive,
    children_of,
    free_port,
    free_udp_port,
    listening_pids,
    port_free,
    simkeep_env,
    start,
    udp_bound,
    wait_until,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads /proc and relies on PR_SET_PDEATHSIG: Linux only")


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def serving(proc: subprocess.Popen, port: int, n: int) -> set[int]:
    """The supervisor's children once `n` of them listen on the port."""
    kids = children_of(proc.pid)
    return kids if len(kids) == n and listening_pids(port) == kids else set()


@pytest.fixture
def serve2(db, tmp_path):
    port = free_port()
    env = simkeep_env(db.url, tmp_path, SIMKEEP_PORT=str(port), SIMKEEP_SHUTDOWN_GRACE_SECONDS="10")
    proc = start(["serve", "--workers", "2"], env, tmp_path / "serve.log")
    try:
        kids = wait_until(lambda: serving(proc, port, 2), timeout=180, what="two children listening")
        yield proc, port, kids, tmp_path / "serve.log"
    finally:
        for pid in children_of(proc.pid):
            signal_quietly(pid, signal.SIGKILL)
        proc.kill()
        proc.wait(10)


def signal_quietly(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def test_a_killed_child_is_replaced_and_requests_keep_succeeding(serve2):
    proc, port, kids, _log = serve2
    base = f"http://127.0.0.1:{port}"
    victim = min(kids)
    signal_quietly(victim, signal.SIGKILL)
    new = wait_until(lambda: serving(proc, port, 2) - kids, timeout=30, what="a replacement listening")
    assert len(new) == 1 and victim not in children_of(proc.pid)
    assert listening_pids(port) == (kids - {victim}) | new  # the new pid serves on the shared port
    answers = [httpx.get(f"{base}/healthz", headers={"Connection": "close"}, timeout=10).status_code
               for _ in range(40)]
    assert answers == [200] * 40
    assert proc.poll() is None


def test_sigterm_stops_every_process_frees_the_port_and_exits_0(serve2):
    proc, port, kids, _log = serve2
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    wait_until(lambda: not any(alive(pid) for pid in kids), timeout=10, what="children gone")
    assert listening_pids(port) == set() and port_free(port)


def test_a_supervisor_killed_with_sigkill_takes_its_children_with_it(serve2):
    proc, port, kids, _log = serve2
    proc.kill()
    proc.wait(10)
    wait_until(lambda: not any(alive(pid) for pid in kids), timeout=30, what="orphans gone")
    wait_until(lambda: port_free(port), timeout=10, what="the port free")


def hold_write_lock(db):
    """A transaction that keeps writers of lines waiting until the returned function is called."""
    if PG_URL:
        conn = psycopg.connect(db.url.replace("postgresql+psycopg://", "postgresql://", 1))
        conn.execute("LOCK TABLE lines IN ACCESS EXCLUSIVE MODE")
    else:
        conn = sqlite3.connect(db.url.split("///", 1)[1], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
    return lambda: (conn.rollback(), conn.close())


def read_by_server(port: int) -> bool:
    """An established connection on the server's side of `port` with nothing left unread: the request that
    was sent whole has been taken in by uvicorn (read and parsed in one event-loop step)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if (int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01"
                    and int(fields[4].split(":")[1], 16) == 0):
                return True
    return False


def test_sigterm_lets_a_request_in_flight_finish_before_the_children_exit(serve2, db):
    proc, port, kids, log = serve2
    body = json.dumps({"msisdn": "+33612345678", "operator_id": "fr-orange-mobicarte"}).encode()
    request = (f"POST /api/v1/lines HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
               ).encode() + body
    release = hold_write_lock(db)
    try:
        client = socket.create_connection(("127.0.0.1", port), timeout=60)
        client.sendall(request)
        wait_until(lambda: read_by_server(port), what="the request taken in")  # now waiting on the lock
        proc.send_signal(signal.SIGTERM)
        wait_until(lambda: "supervisor.stopping" in log.read_text(), what="the supervisor stopping")
        assert proc.poll() is None and any(alive(pid) for pid in kids)  # draining: the request is in flight
    finally:
        release()
    answer = b""
    while chunk := client.recv(65536):
        answer += chunk
    client.close()
    assert answer.startswith(b"HTTP/1.1 201 "), answer[:300]
    assert proc.wait(30) == 0
    assert not any(alive(pid) for pid in kids) and port_free(port)


def test_the_supervisor_restarts_a_child_that_dies_at_once_with_a_growing_pause(tmp_path):
    """A child that exits at once is restarted after 0.05, 0.1, 0.2, 0.4 s, not in a tight loop. The supervisor is
    stopped after five starts, however long a loaded machine takes to spawn them: each gap is at least its pause."""
    stamps = tmp_path / "starts"
    child = Child("crasher", ["/bin/sh", "-c", f"date +%s.%N >> {stamps}; exit 3"])
    supervisor = Supervisor([child], backoff_min=0.05, backoff_max=0.4, stable_after=60, poll=0.01)

    def stop_after_five_starts() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not stamps.exists() or len(stamps.read_text().split()) < 5):
            time.sleep(0.01)
        supervisor._stop(signal.SIGTERM, None)

    stopper = threading.Thread(target=stop_after_five_starts, daemon=True)
    stopper.start()
    previous = signal.getsignal(signal.SIGTERM)
    assert supervisor.run() == 0
    stopper.join(5)
    assert signal.getsignal(signal.SIGTERM) == previous
    starts = [float(line) for line in stamps.read_text().split()]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) >= 5, starts
    assert [gap >= pause for gap, pause in zip(gaps, (0.05, 0.1, 0.2, 0.4), strict=False)] == [True] * 4, gaps


def test_run_supervises_the_worker_the_server_and_the_voice_menu_and_stops_them(db, tmp_path):
    port, sip_port = free_port(), free_udp_port()
    env = simkeep_env(f"sqlite:///{tmp_path / 'run.db'}", tmp_path, SIMKEEP_PORT=str(port),
                      SIMKEEP_SHUTDOWN_GRACE_SECONDS="5", SIMKEEP_VOICE_SIP_PORT=str(sip_port))
    proc = start(["run"], env, tmp_path / "run.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: healthy(base) and len(children_of(proc.pid)) == 3 and udp_bound(sip_port), timeout=120,
                   what="run serving")
        kids = children_of(proc.pid)
        worker = next(pid for pid in kids if b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes())
        signal_quietly(worker, signal.SIGKILL)
        wait_until(lambda: len(children_of(proc.pid) - kids) == 1 and len(children_of(proc.pid)) == 3,
                   timeout=30, what="a new worker")
        kids = children_of(proc.pid)
        proc.send_signal(signal.SIGINT)  # Ctrl+C
        assert proc.wait(60) == 0
        wait_until(lambda: not any(alive(pid) for pid in kids), timeout=10, what="children gone")
        assert port_free(port) and not udp_bound(sip_port)
    finally:
        for pid in children_of(proc.pid):
            signal_quietly(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
