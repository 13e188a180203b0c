"""The SMPP 3.4 connection (smpplib for the PDUs): one transceiver bind, kept alive and rebound by a session thread.

`Link` is one TCP connection and its request/response exchange; `Session` binds it, probes it with enquire_link,
rebinds with exponential backoff when it dies, and lends it to one sender at a time.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import random
import select
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from smpplib import exceptions as smpp_errors
from smpplib import smpp

from simkeep.core.metrics import SMPP_LINK_UP
from simkeep.notification.senders.base import TemporaryFailure

log = structlog.get_logger()

# command_status values
ROK, RINVBNDSTS, RSYSERR, RINVSRCADR, RINVDSTADR, RMSGQFUL, RTHROTTLED, RX_T_APPN = (
    0x00, 0x04, 0x08, 0x0A, 0x0B, 0x14, 0x58, 0x64)
CONNECTING, BOUND, DOWN, CLOSED = "connecting", "bound", "down", "closed"


class LinkLost(Exception):
    pass


class _Sequence:
    """smpplib's PDUs take their sequence numbers from this (shared by two threads, hence the lock)."""

    def __init__(self) -> None:
        self._lock, self._numbers, self.sequence = threading.Lock(), itertools.count(1), 0

    def next_sequence(self) -> int:
        with self._lock:
            self.sequence = (next(self._numbers) - 1) % 0x7FFFFFFF + 1
            return self.sequence


class _Waiter:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.pdu: Any = None  # the response, an smpplib PDU (the library has no types)
        self.error: str | None = None


class Link:
    """One TCP connection: framed reads for the session thread, locked writes for everyone."""

    def __init__(self, sock: socket.socket, numbers: _Sequence) -> None:
        self.sock, self.numbers = sock, numbers
        self._write_lock, self._pending_lock = threading.Lock(), threading.Lock()
        self._pending: dict[int, _Waiter] = {}
        self.error: str | None = None

    def pdu(self, command: str, **fields):
        return smpp.make_pdu(command, client=self.numbers, **fields)

    def reply(self, sequence: int, command: str, status: int = 0) -> None:
        pdu = self.pdu(command, status=status)
        pdu.sequence = sequence  # smpplib ignores a `sequence=` argument when it has a current one
        self.write(pdu)

    def write(self, pdu) -> None:
        data = pdu.generate()
        try:
            with self._write_lock:
                self.sock.sendall(data)
        except OSError as exc:
            self.fail(f"write failed: {exc}")
            raise LinkLost(self.error) from exc

    def request(self, pdu) -> _Waiter:
        waiter = _Waiter()
        with self._pending_lock:
            if self.error:
                raise LinkLost(self.error)
            self._pending[pdu.sequence] = waiter
        self.write(pdu)
        return waiter

    def wait(self, pdu, timeout: float):
        """Send a request and return its response; LinkLost if the link dies or stays silent."""
        waiter = self.request(pdu)
        if not waiter.event.wait(timeout):
            self.fail(f"no {pdu.command}_resp within {timeout:g} s")
        if waiter.error:
            raise LinkLost(waiter.error)
        return waiter.pdu

    def resolve(self, pdu) -> bool:
        with self._pending_lock:
            waiter = self._pending.pop(pdu.sequence, None)
        if waiter:
            waiter.pdu = pdu
            waiter.event.set()
        return waiter is not None

    def read(self):
        header = self._exact(4)
        (length,) = struct.unpack(">L", header)
        if not 16 <= length <= 65536:
            raise LinkLost(f"bad PDU length {length}")
        raw = header + self._exact(length - 4)
        try:
            return smpp.parse_pdu(raw, client=self.numbers, allow_unknown_opt_params=True)
        except (smpp_errors.UnknownCommandError, struct.error, IndexError) as exc:
            command_id, _status, sequence = struct.unpack(">LLL", raw[4:16])
            log.warning("smpp.unparsable_pdu", command_id=hex(command_id), error=str(exc))
            if not command_id & 0x80000000:
                self.reply(sequence, "generic_nack", 0x03)  # ESME_RINVCMDID
            return None

    def _exact(self, size: int) -> bytes:
        chunks = []
        while size:
            try:
                chunk = self.sock.recv(size)
            except OSError as exc:
                raise LinkLost(f"read failed: {exc}") from exc
            if not chunk:
                raise LinkLost("connection closed by the SMSC")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def fail(self, reason: str) -> None:
        """Mark dead, wake every waiter, and shut the socket so the reading thread sees it too."""
        with self._pending_lock:
            self.error = self.error or reason
            waiters, self._pending = list(self._pending.values()), {}
        for waiter in waiters:
            waiter.error = self.error
            waiter.event.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self, reason: str) -> None:
        self.fail(reason)
        with self._write_lock:  # never while another thread writes: the descriptor could be reused
            self.sock.close()


class Session:
    """The transceiver bind. `run` is the session thread; deliver_sm PDUs go to `inbox` as (link, pdu), for the
    listener thread to answer once recorded."""

    def __init__(self, host: str, port: int, *, system_id: str, password: str, system_type: str,
                 enquire_link_seconds: float, reconnect_min: float, reconnect_max: float, response_timeout: float,
                 connect_timeout: float, clock: Callable[[], float], inbox: queue.Queue) -> None:
        self.host, self.port = host, port
        self.system_id, self.password, self.system_type = system_id, password, system_type
        self.enquire_link_seconds = enquire_link_seconds
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.response_timeout, self.connect_timeout = response_timeout, connect_timeout
        self.clock, self.inbox = clock, inbox
        self.numbers = _Sequence()
        self._lend_lock, self._state_lock = threading.Lock(), threading.Condition()
        self._state, self._last_error = CONNECTING, "not connected yet"
        self._link: Link | None = None
        self._closing = threading.Event()
        self.binds = 0
        # simkeep_smpp_link_up's label: which SMSC and account, never the password
        self._link_up = SMPP_LINK_UP.labels(f"{host}:{port}/{system_id}")
        self._link_up.set(0)

    @contextlib.contextmanager
    def bound_link(self) -> Iterator[Link]:
        """The bound link, lent to one sender at a time; TemporaryFailure while there is none."""
        with self._lend_lock:
            with self._state_lock:
                self._state_lock.wait_for(lambda: self._state != CONNECTING, timeout=self.connect_timeout)
                if self._state != BOUND or self._link is None:
                    raise TemporaryFailure(f"SMPP link {self._state}: {self._last_error}")
                link = self._link
            yield link

    @property
    def bound(self) -> bool:
        return self._state == BOUND

    def wait_bound(self, timeout: float = 5.0) -> bool:
        with self._state_lock:
            return self._state_lock.wait_for(lambda: self._state == BOUND, timeout=timeout)

    def close(self) -> None:
        """Unbind cleanly (once a lent link is back) and make the session thread stop."""
        with self._lend_lock, self._state_lock:
            link, self._state, self._last_error = self._link, CLOSED, "closed"
            self._link_up.set(0)
            self._state_lock.notify_all()
        if link is not None and not link.error:
            with contextlib.suppress(LinkLost):
                link.wait(link.pdu("unbind"), min(self.response_timeout, 2.0))
        self._closing.set()
        if link is not None:
            link.fail("closed")

    # -- the session thread: bind, read, keep alive, rebind with backoff --
    def run(self) -> None:
        delay = self.reconnect_min
        while not self._closing.is_set():
            self._set_state(CONNECTING)
            started = self.clock()
            try:
                link = self._bind()
            except Exception as exc:  # refused, unreachable, or anything else: the thread must live on
                self._set_state(DOWN, f"bind failed: {exc}")
                log.warning("smpp.bind_failed", host=self.host, port=self.port, error=str(exc), retry_in=delay)
            else:
                self._set_state(BOUND, link=link)
                try:
                    reason = self._read_loop(link)
                except Exception as exc:
                    log.exception("smpp.session_error")
                    reason = f"{type(exc).__name__}: {exc}"
                link.close(reason)
                if self._closing.is_set() or self._state == CLOSED:  # close() unbound it
                    break
                self._set_state(DOWN, reason)
                log.warning("smpp.link_lost", reason=reason, retry_in=delay)
                if self.clock() - started > 10 * max(self.reconnect_min, 1.0):
                    delay = self.reconnect_min  # it was a healthy session: start the backoff over
            self._closing.wait(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.reconnect_max)
        self._set_state(CLOSED, "closed")

    def _bind(self) -> Link:
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = Link(sock, self.numbers)
        try:
            bind = link.pdu("bind_transceiver", system_id=self.system_id, password=self.password,
                            system_type=self.system_type, addr_ton=0, addr_npi=0, address_range="")
            link.write(bind)
            response = link.read()
            if response is None or response.sequence != bind.sequence or response.status != ROK:
                status = getattr(response, "status", None)
                raise LinkLost(f"bind refused ({response and response.command} status {status})")
        except BaseException:
            sock.close()
            raise
        sock.settimeout(self.response_timeout)  # only to finish a PDU that is already arriving
        self.binds += 1
        log.info("smpp.bound", host=self.host, port=self.port, system_id=self.system_id)
        return link

    def _read_loop(self, link: Link) -> str:
        """Read until the link fails. After `enquire_link_seconds` without a PDU from the SMSC, probe it with an
        enquire_link; no PDU at all within `timeout` after the probe means the link is dead."""
        last_heard, probe_sent = self.clock(), None
        while not self._closing.is_set():
            now = self.clock()
            if probe_sent is not None and now - probe_sent > self.response_timeout:
                return "no answer to enquire_link"
            if probe_sent is None and now - last_heard >= self.enquire_link_seconds:
                try:
                    link.request(link.pdu("enquire_link"))
                except LinkLost as exc:
                    return str(exc)
                probe_sent = now
            try:
                readable, _, _ = select.select([link.sock], [], [], min(0.5, max(self.enquire_link_seconds / 2, 0.01)))
                pdu = link.read() if readable else None
            except (LinkLost, OSError, ValueError) as exc:
                return str(exc) or "connection closed"
            if pdu is None:
                continue
            last_heard, probe_sent = self.clock(), None
            try:
                if not self._handle(link, pdu):
                    return "unbound by the SMSC"
            except LinkLost as exc:
                return str(exc)
        return "closed"

    def _handle(self, link: Link, pdu) -> bool:
        command = pdu.command
        if command == "deliver_sm":
            self.inbox.put((link, pdu))
        elif command == "enquire_link":
            link.reply(pdu.sequence, "enquire_link_resp")
        elif command == "unbind":
            link.reply(pdu.sequence, "unbind_resp")
            return False
        elif pdu.is_response():
            if not link.resolve(pdu):
                log.info("smpp.late_response", command=command, sequence=pdu.sequence)
        else:  # data_sm, alert_notification ...: not supported on this bind
            link.reply(pdu.sequence, "generic_nack", 0x03)
        return True

    def _set_state(self, state: str, error: str | None = None, link: Link | None = None) -> None:
        with self._state_lock:
            if self._state == CLOSED:
                return
            self._state, self._link = state, link
            self._link_up.set(1 if state == BOUND else 0)
            if error:
                self._last_error = error
            self._state_lock.notify_all()
