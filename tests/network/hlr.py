"""A real HLR for the network tests and the benchmark: Debian's osmo-hlr (`make network-deps`), started from a
generated config file with its own SQLite database in a temporary directory.

osmo-hlr 1.5.0 takes its ports from the code (GSUP 4222, VTY 4258, CTRL 4259; the VTY's `bind` ignores a port and
CTRL's has none): only the address is configurable. So each peer takes an address of its own in 127.0.0.2–254, held
with a lock file in the temporary directory shared by every process on the machine (the SQLite and PostgreSQL suites
run in parallel, and other checkouts may too), after checking that nothing else listens on those ports there
(127.0.0.1:4222 is often a NATS server's).

The helpers read and change a subscriber over a bare CTRL client and the VTY, independent of simkeep's adapter: the
tests check the HLR's state with them, and change a flag "by hand" for the drift check. `history(imsi)` is every
change the HLR made to a subscriber, in order, recorded by SQLite triggers the peer adds to the HLR's own database
(osmo-hlr logs none of them): tests check with it that a command arrived once and in order, and that re-sending one
changed nothing.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterable
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from simkeep.network.models import ABSENT, CS, CS_PS, NONE, PS

GSUP_PORT, VTY_PORT, CTRL_PORT = 4222, 4258, 4259
PR_SET_PDEATHSIG = 1
LOCKS = Path(tempfile.gettempdir()) / "simkeep-osmo-hlr-addresses"
MODE_OF_FLAGS = {(False, False): NONE, (True, False): CS, (False, True): PS, (True, True): CS_PS}  # (cs, ps)

CONFIG = """\
log stderr
 logging filter all 1
 logging color 0
 logging print category 1
 logging print level 1
 logging level main notice
 logging level db notice
 logging level auc notice
 logging level ss notice
 logging level linp error
line vty
 bind {address}
ctrl
 bind {address}
hlr
 gsup
  bind ip {address}
"""


# One row per change osmo-hlr writes: it writes a network-access-mode as two flag updates (cs, then ps), so a mode
# change through the VTY is one or two rows; a new subscriber is one row (cs+ps on, no number), its number another.
HISTORY = """
CREATE TABLE IF NOT EXISTS peer_history (seq INTEGER PRIMARY KEY AUTOINCREMENT, imsi TEXT NOT NULL,
                                         event TEXT NOT NULL, msisdn TEXT, nam_cs INTEGER, nam_ps INTEGER);
CREATE TRIGGER IF NOT EXISTS peer_created AFTER INSERT ON subscriber BEGIN
  INSERT INTO peer_history (imsi, event, msisdn, nam_cs, nam_ps)
  VALUES (NEW.imsi, 'created', NEW.msisdn, NEW.nam_cs, NEW.nam_ps);
END;
CREATE TRIGGER IF NOT EXISTS peer_updated AFTER UPDATE ON subscriber
WHEN OLD.msisdn IS NOT NEW.msisdn OR OLD.nam_cs IS NOT NEW.nam_cs OR OLD.nam_ps IS NOT NEW.nam_ps BEGIN
  INSERT INTO peer_history (imsi, event, msisdn, nam_cs, nam_ps)
  VALUES (NEW.imsi, 'updated', NEW.msisdn, NEW.nam_cs, NEW.nam_ps);
END;
CREATE TRIGGER IF NOT EXISTS peer_deleted AFTER DELETE ON subscriber BEGIN
  INSERT INTO peer_history (imsi, event) VALUES (OLD.imsi, 'deleted');
END;
"""


@dataclass(frozen=True)
class Change:
    """One change the HLR made to a subscriber: `event` created / updated / deleted, then what it held after it
    (msisdn: the HLR's digits; cs, ps: its flags; None after a delete)."""

    event: str
    msisdn: str | None = None
    cs: bool | None = None
    ps: bool | None = None

    @property
    def mode(self) -> str:
        """simkeep's name for what the subscriber held after this change (ABSENT after a delete)."""
        return ABSENT if self.event == "deleted" else MODE_OF_FLAGS[bool(self.cs), bool(self.ps)]


@dataclass(frozen=True)
class Subscriber:
    """What the HLR holds for one IMSI, as its CTRL `info` says (msisdn: the HLR's digits, no "+")."""

    imsi: str
    msisdn: str | None
    cs: bool
    ps: bool

    @property
    def mode(self) -> str:
        return MODE_OF_FLAGS[self.cs, self.ps]


class CtrlError(Exception):
    """The HLR answered ERROR."""


class OsmoHlrPeer:
    """One osmo-hlr process; `start()` again after `stop()` reopens the same database on the same address."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.database = directory / "hlr.db"
        self.log = directory / "osmo-hlr.log"
        self.address, self._lock = _claim_address()
        (directory / "osmo-hlr.cfg").write_text(CONFIG.format(address=self.address))
        self.ctrl_port, self.vty_port = CTRL_PORT, VTY_PORT
        self.url = f"osmo-hlr://{self.address}:{self.ctrl_port}?vty={self.vty_port}"
        self._process: subprocess.Popen | None = None
        self._ids = 0

    def start(self) -> None:
        assert self._process is None, "already running"
        if not self.database.exists():
            self._create_database()
        prctl, parent = ctypes.CDLL(None, use_errno=True).prctl, os.getpid()

        def die_with_the_tests() -> None:  # between fork and exec: a SIGKILLed pytest leaves no HLR holding the address
            prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            if os.getppid() != parent:
                os._exit(1)

        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(
                ["osmo-hlr", "--config-file", str(self.directory / "osmo-hlr.cfg"), "--database", str(self.database),
                 "--db-upgrade", "--disable-color"], stdout=log, stderr=subprocess.STDOUT, cwd=self.directory,
                preexec_fn=die_with_the_tests)
        deadline = time.monotonic() + 20
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"osmo-hlr did not start on {self.address}: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def pause(self) -> None:
        """Freeze the HLR (SIGSTOP): connections open, requests wait unanswered, as from an overloaded HLR. Used to
        make a worker's send hang, so that it can be killed between the send and its commit."""
        assert self._process is not None, "not running"
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused HLR go on: it answers (and applies) what was sent meanwhile, even to a client gone since."""
        assert self._process is not None, "not running"
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._process is None:
            return
        process, self._process = self._process, None
        process.send_signal(signal.SIGCONT)  # a paused HLR would hold the SIGTERM
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def close(self) -> None:
        """Stop it, remove its files and give its address back."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
            _release(self.address, self._lock)

    def _create_database(self) -> None:
        """osmo-hlr creates its schema (`--db-check` quits once done), then the peer adds its history triggers."""
        with open(self.log, "ab") as log:
            subprocess.run(["osmo-hlr", "--database", str(self.database), "--db-upgrade", "--db-check",
                            "--config-file", str(self.directory / "osmo-hlr.cfg"), "--disable-color"],
                           stdout=log, stderr=subprocess.STDOUT, cwd=self.directory, check=True, timeout=60)
        with closing(sqlite3.connect(self.database)) as db, db:
            db.executescript(HISTORY)

    def seed(self, subscribers: Iterable[Subscriber]) -> None:
        """Write subscribers straight into the stopped HLR's database, in one transaction: 100,000 in a second,
        where creating them over CTRL takes minutes (benchmarks of the drift check's reads)."""
        assert self._process is None, "stop the HLR first: it caches nothing, but it must not write meanwhile"
        with closing(sqlite3.connect(self.database)) as db, db:
            db.executemany("INSERT INTO subscriber (imsi, msisdn, nam_cs, nam_ps) VALUES (?, ?, ?, ?)",
                           ((s.imsi, s.msisdn, s.cs, s.ps) for s in subscribers))

    # Reading and changing subscribers directly (not through simkeep's adapter).

    def history(self, imsi: str) -> list[Change]:
        """Every change the HLR made to this IMSI's subscriber, oldest first (also across stop/start)."""
        with closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)) as db:
            rows = db.execute("SELECT event, msisdn, nam_cs, nam_ps FROM peer_history WHERE imsi = ? ORDER BY seq",
                              [imsi]).fetchall()
        return [Change(event, msisdn, None if cs is None else bool(cs), None if ps is None else bool(ps))
                for event, msisdn, cs, ps in rows]


    def subscriber(self, imsi: str) -> Subscriber | None:
        try:
            info = self.ctrl("GET", f"subscriber.by-imsi-{imsi}.info")
        except CtrlError as error:
            if str(error) == "No such subscriber.":
                return None
            raise
        fields = dict(line.split("\t", 1) for line in info.splitlines() if "\t" in line)
        return Subscriber(fields["imsi"], fields.get("msisdn"), fields["nam_cs"] == "1", fields["nam_ps"] == "1")

    def create(self, imsi: str, msisdn: str | None = None) -> None:
        self.ctrl("SET", "subscriber.create", imsi)
        if msisdn:
            self.ctrl("SET", f"subscriber.by-imsi-{imsi}.msisdn", msisdn.removeprefix("+"))

    def delete(self, imsi: str) -> None:
        self.ctrl("SET", "subscriber.delete", imsi)

    def set_flag(self, imsi: str, flag: str, on: bool) -> None:
        """Change `cs-enabled` or `ps-enabled` by hand, as an engineer at the HLR would."""
        self.ctrl("SET", f"subscriber.by-imsi-{imsi}.{flag}", "1" if on else "0")

    def set_msisdn(self, imsi: str, msisdn: str | None) -> None:
        self.ctrl("SET", f"subscriber.by-imsi-{imsi}.msisdn", msisdn.removeprefix("+") if msisdn else "none")

    def imsis(self) -> list[str]:
        """Every IMSI the HLR holds (the VTY's `show subscribers all`)."""
        rows = self.vty("show subscribers all").splitlines()
        return [row.split()[2] for row in rows if row[:1].isdigit()]

    def reset(self) -> None:
        """Delete every subscriber (tests that count what the HLR holds start from nothing)."""
        for imsi in self.imsis():
            self.delete(imsi)

    def ctrl(self, verb: str, variable: str, value: str | None = None) -> str:
        """One CTRL request on a new connection; the value of the reply, CtrlError on ERROR."""
        self._ids += 1
        with socket.create_connection((self.address, self.ctrl_port), timeout=10) as sock:
            reply = ctrl_exchange(sock, self._ids, verb, variable, value)
        if reply.startswith("ERROR "):
            raise CtrlError(reply.split(" ", 2)[2])
        return reply.split(" ", 3)[3] if reply.count(" ") >= 3 else ""

    def vty(self, command: str) -> str:
        """One VTY command in enable mode on a new connection; its output."""
        with socket.create_connection((self.address, self.vty_port), timeout=10) as sock:
            _until(sock, b"OsmoHLR> ")
            sock.sendall(b"enable\n")
            _until(sock, b"OsmoHLR# ")
            sock.sendall(command.encode() + b"\n")
            output = _until(sock, b"OsmoHLR# ").decode()
        return output.replace("\r", "").split("\n", 1)[1].rsplit("\n", 1)[0]

    def _answers(self) -> bool:
        try:
            with socket.create_connection((self.address, self.ctrl_port), timeout=1) as sock:
                ctrl_exchange(sock, 0, "GET", "subscriber.by-imsi-001010000000000.info")
            return True
        except OSError:
            return False


def ctrl_exchange(sock: socket.socket, request_id: int, verb: str, variable: str, value: str | None = None) -> str:
    """The bare CTRL protocol: one IPA frame (length, 0xEE "OSMO", extension 0x00 CTRL) out, frames in until the
    reply with this id (the benchmark's baseline uses it too)."""
    text = f"{verb} {request_id} {variable}" + (f" {value}" if value is not None else "")
    payload = b"\x00" + text.encode()
    sock.sendall(struct.pack(">HB", len(payload), 0xEE) + payload)
    while True:
        length, protocol = struct.unpack(">HB", _exactly(sock, 3))
        reply = _exactly(sock, length)
        if protocol == 0xEE and reply[:1] == b"\x00":
            words = reply[1:].decode().split(" ", 2)
            if len(words) > 1 and words[1] == str(request_id):
                return reply[1:].decode()


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("osmo-hlr closed the connection")
        data += chunk
    return data


def _until(sock: socket.socket, prompt: bytes) -> bytes:
    data = b""
    while not data.endswith(prompt):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("osmo-hlr closed the VTY")
        data += chunk
    return data


def _claim_address() -> tuple[str, IO[str]]:
    if not LOCKS.exists():
        LOCKS.mkdir(exist_ok=True)
        with suppress(OSError):
            LOCKS.chmod(0o1777)  # shared by every user's tests, like the temporary directory itself
    for last in range(2, 255):
        address = f"127.0.0.{last}"
        try:
            lock = open(LOCKS / f"{address}.lock", "a")  # noqa: SIM115 (held open: the lock lives as long as the peer)
        except PermissionError:  # another user's peer made it: theirs
            continue
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        if all(_free(address, port) for port in (GSUP_PORT, VTY_PORT, CTRL_PORT)):
            return address, lock
        _release(address, lock)
    raise RuntimeError("no free 127.0.0.x address for osmo-hlr")


def _release(address: str, lock: IO[str]) -> None:
    fcntl.flock(lock, fcntl.LOCK_UN)
    lock.close()


def _free(address: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
        return True
