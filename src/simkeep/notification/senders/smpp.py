"""SMS over SMPP 3.4 (smpplib for the PDUs): one transceiver bind, kept alive and rebound by a session thread.

Encoding, as notification.segments decides it (so the template previews count the parts that really go out):
GSM 03.38 default alphabet (data_coding 0, extension table escaped with 0x1B, one septet per octet unless the
URL says `gsm7=packed`) when every character fits, after folding typography (no-break spaces, curly quotes,
dashes) to plain look-alikes; UCS-2 otherwise (data_coding 8, UTF-16-BE, so characters beyond the BMP travel
as surrogate pairs). Up to 160 septets / 70 UTF-16 units go in one submit_sm; longer texts are split into parts
of at most 153 septets / 67 units behind a UDH (esm_class 0x40, IE 00 03 ref total seq), never cutting an
escape sequence or a surrogate pair. The 8-bit reference comes from the outbox message id, so a retry sends the
same concatenation set again and the handset can discard parts it already holds.

Message ids: every part gets its own SMSC id and its own receipt. `Sent.external_id` is the id of the last
part, the one whose receipt the outbox row records (record_receipt matches that exact id). Receipts for the
other parts are folded into it while this process remembers them: a failed part reports its failure under the
last part's id, and a failure is never overwritten by a later DELIVRD.

URL: smpp://SYSTEM_ID:PASSWORD@HOST:PORT?source=simkeep&enquire_link=30&reconnect=1&timeout=10&gsm7=unpacked
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import random
import re
import select
import socket
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

import structlog
from smpplib import exceptions as smpp_errors
from smpplib import smpp

from simkeep.notification import segments
from simkeep.notification.senders.base import Listener, Outgoing, PermanentFailure, Sent, TemporaryFailure

log = structlog.get_logger()

# --- GSM 03.38 (the alphabet, folding and segmentation rules live in notification.segments) --------------
GSM7, UCS2 = 0x00, 0x08
UDHI = 0x40
_FROM_EXTENSION = {code: ch for ch, code in segments.EXTENSION.items()}


def gsm7_decode(septets: bytes) -> str:
    out, escaped = [], False
    for code in septets:
        if escaped:
            out.append(_FROM_EXTENSION.get(code, segments.BASIC[code & 0x7F]))
            escaped = False
        elif code == segments.ESCAPE:
            escaped = True
        else:
            out.append(segments.BASIC[code & 0x7F])
    return "".join(out)


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """GSM 03.38 packing, least significant bit first, after `fill_bits` zero bits (to align after a UDH).
    Seven spare bits at the end are filled with CR so they cannot read as a trailing '@' (23.038 §6.1.2.3.1)."""
    if (fill_bits + 7 * len(septets)) % 8 == 1:
        septets += b"\r"
    acc, nbits, out = 0, fill_bits, bytearray()
    for septet in septets:
        acc |= (septet & 0x7F) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc)
    return bytes(out)


def unpack_septets(data: bytes, fill_bits: int = 0) -> bytes:
    bits = len(data) * 8 - fill_bits
    value = int.from_bytes(data, "little") >> fill_bits
    septets = bytes((value >> (7 * i)) & 0x7F for i in range(bits // 7))
    return septets[:-1] if bits % 7 == 0 and septets.endswith(b"\r") else septets


@dataclass(frozen=True, slots=True)
class Split:
    data_coding: int  # 0 GSM-7, 8 UCS-2
    chunks: list[bytes]  # per part, without UDH: septets one per octet, or UTF-16-BE

    @property
    def encoding(self) -> str:
        return "GSM-7" if self.data_coding == GSM7 else "UCS-2"


def split_text(text: str) -> Split:
    """How a text travels (segments.analyse: folded to GSM-7 when only typography stood in the way, cut into the
    parts the template previews count), each part encoded for short_message."""
    sms = segments.analyse(text)
    if sms.encoding == segments.GSM7:
        return Split(GSM7, [segments.gsm7_codes(part) for part in sms.parts])
    return Split(UCS2, [part.encode("utf-16-be") for part in sms.parts])


def user_data(split: Split, index: int, reference: int, *, packed: bool = False) -> tuple[int, bytes]:
    """esm_class and short_message of part `index` (0-based)."""
    total, chunk = len(split.chunks), split.chunks[index]
    udh = bytes([5, 0, 3, reference & 0xFF, total, index + 1]) if total > 1 else b""
    if split.data_coding == GSM7 and packed:
        chunk = pack_septets(chunk, fill_bits=1 if udh else 0)  # 48 UDH bits + 1 = 7 septets
    return (UDHI if udh else 0), udh + chunk


# --- receipts and inbound messages -----------------------------------------------------------------------
RECEIPT_TYPES = (0x04, 0x20)  # esm_class message type: SMSC delivery receipt, intermediate notification
FAILED_STATES = ("UNDELIV", "REJECTD", "EXPIRED", "DELETED", "UNKNOWN")
MESSAGE_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD",
                  7: "UNKNOWN", 8: "REJECTD"}
_RECEIPT_ID, _RECEIPT_STAT = re.compile(r"(?i)\bid:\s*(\S+)"), re.compile(r"(?i)\bstat:\s*(\w+)")


def parse_receipt(pdu) -> tuple[str, str] | None:
    """(message id, stat) from a receipt deliver_sm: the SMPP 3.4 TLVs when present, else the receipt text."""
    text = _content(pdu).decode("latin-1")
    found_id, found_stat = _RECEIPT_ID.search(text), _RECEIPT_STAT.search(text)
    message_id = _text(pdu.receipted_message_id) or (found_id and found_id.group(1))
    stat = (found_stat and found_stat.group(1).upper()) or MESSAGE_STATES.get(pdu.message_state or 0)
    return (message_id, stat) if message_id and stat else None


def _content(pdu) -> bytes:
    return bytes(pdu.short_message or pdu.message_payload or b"")


def _text(value) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else (value or "")


def _concatenation(payload: bytes) -> tuple[bytes, tuple[int, int, int] | None]:
    """Strip a UDH; returns the rest and (reference, total, seq) if it is a concatenated part."""
    length = payload[0] if payload else 0
    header, rest, position, found = payload[1:1 + length], payload[1 + length:], 0, None
    while position + 2 <= len(header):
        iei, size = header[position], header[position + 1]
        value = header[position + 2:position + 2 + size]
        if iei == 0x00 and size == 3:
            found = (value[0], value[1], value[2])
        elif iei == 0x08 and size == 4:
            found = ((value[0] << 8) | value[1], value[2], value[3])
        position += 2 + size
    return rest, found


def decode_user_data(coding: int, data: bytes) -> str:
    if coding == UCS2:
        return data.decode("utf-16-be", errors="replace")
    if coding == GSM7:
        return gsm7_decode(data)
    return data.decode("ascii" if coding == 0x01 else "latin-1", errors="replace")


# --- pacing -----------------------------------------------------------------------------------------------
class RateLimiter:
    """Token bucket (as GCRA): `rate` submits per second, at most `burst` back to back; rate 0 = unlimited."""

    def __init__(self, rate: float, burst: int = 1, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval, self.burst, self.clock, self.sleep = (1.0 / rate if rate > 0 else 0.0), max(burst, 1), clock, sleep
        self._tat = float("-inf")  # theoretical arrival time of the next submit

    def acquire(self) -> None:
        now = self.clock()
        tat = max(self._tat, now)
        allowed = tat - (self.burst - 1) * self.interval
        if allowed > now:
            self.sleep(allowed - now)
        self._tat = tat + self.interval

    def hold(self, seconds: float) -> None:
        """The SMSC said slow down: nothing goes out for `seconds`."""
        self._tat = max(self._tat, self.clock() + seconds)


# --- the link ---------------------------------------------------------------------------------------------
ROK, RINVBNDSTS, RSYSERR, RINVSRCADR, RINVDSTADR, RMSGQFUL, RTHROTTLED, RX_T_APPN = (
    0x00, 0x04, 0x08, 0x0A, 0x0B, 0x14, 0x58, 0x64)
TEMPORARY_STATUSES = {RINVBNDSTS: "incorrect bind status", RSYSERR: "system error", RMSGQFUL: "message queue full",
                      RTHROTTLED: "throttled", RX_T_APPN: "temporary application error"}
PERMANENT_STATUSES = {RINVSRCADR: "invalid source address", RINVDSTADR: "invalid destination address"}
_E164 = re.compile(r"\+?[1-9][0-9]{6,14}")


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
        self.event, self.pdu, self.error = threading.Event(), None, None


class _Link:
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


# --- the sender -------------------------------------------------------------------------------------------
CONNECTING, BOUND, DOWN, CLOSED = "connecting", "bound", "down", "closed"
_QUERY = {"source", "source_ton", "source_npi", "system_type", "enquire_link", "reconnect", "timeout", "gsm7"}


class SmppSender:
    """Sender for channel "sms". `listener` records receipts and inbound SMS (tasks.DbListener)."""

    def __init__(self, url: str, *, listener: Listener | None = None, rate_per_second: float = 0.0, burst: int = 1,
                 connect_timeout: float = 5.0, reconnect_max: float = 60.0, throttle_pause: float = 1.0,
                 receipt_hold: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        if parts.scheme != "smpp" or not parts.hostname or not parts.port or set(query) - _QUERY:
            raise ValueError(f"expected smpp://SYSTEM_ID:PASSWORD@HOST:PORT[?{'&'.join(sorted(_QUERY))}]")
        self.host, self.port = parts.hostname, parts.port
        self.system_id, self.password = unquote(parts.username or ""), unquote(parts.password or "")
        if len(self.system_id) > 15 or len(self.password) > 8 or not (self.system_id + self.password).isascii():
            raise ValueError("SMPP 3.4 allows an ASCII system_id of 15 and password of 8 characters at most")
        self.system_type = query.get("system_type", "")
        self.source = query.get("source", "simkeep").strip()  # a '+' left unescaped in the URL reads as a space
        digits = self.source.lstrip("+")
        if digits.isdigit():  # an international number, or a short code (network specific)
            ton, npi = (1, 1) if self.source.startswith("+") or len(digits) > 8 else (3, 0)
            self.source = digits
        elif len(self.source) <= 11 and self.source.isascii() and self.source.isprintable():
            ton, npi = 5, 0  # alphanumeric
        else:
            raise ValueError("an alphanumeric sender has 11 ASCII characters at most")
        self.source_ton, self.source_npi = int(query.get("source_ton", ton)), int(query.get("source_npi", npi))
        self.enquire_link_seconds = float(query.get("enquire_link", 30))
        self.reconnect_min, self.reconnect_max = float(query.get("reconnect", 1)), reconnect_max
        self.response_timeout, self.connect_timeout = float(query.get("timeout", 10)), connect_timeout
        self.packed = query.get("gsm7", "unpacked") == "packed"
        self.listener, self.throttle_pause, self.receipt_hold, self.clock = listener, throttle_pause, receipt_hold, clock
        self.limiter = RateLimiter(rate_per_second, burst, clock=clock)
        self.numbers = _Sequence()
        self._send_lock, self._state_lock = threading.Lock(), threading.Condition()
        self._state, self._link, self._last_error = CONNECTING, None, "not connected yet"
        self._closing = threading.Event()
        self._inbox: queue.Queue = queue.Queue()
        # Receipt bookkeeping (see the module docstring), bounded: part id -> last part id ("" = a part of a
        # message that failed and goes again), last-part ids already failed, submit times.
        self._parts: OrderedDict[str, str] = OrderedDict()
        self._failed: OrderedDict[str, None] = OrderedDict()
        self._submitted: OrderedDict[str, float] = OrderedDict()
        self._holding = False
        self._mo_parts: OrderedDict[tuple, dict[int, bytes]] = OrderedDict()
        self.binds = 0
        self._threads = [threading.Thread(target=self._session_loop, name="smpp-session", daemon=True),
                         threading.Thread(target=self._dispatch_loop, name="smpp-listener", daemon=True)]
        for thread in self._threads:
            thread.start()

    # -- sending --
    def send(self, message: Outgoing) -> Sent:
        if not _E164.fullmatch(message.recipient):
            raise PermanentFailure(f"not an E.164 number: {message.recipient!r}")
        split = split_text(message.text)
        if len(split.chunks) > 255:
            raise PermanentFailure(f"text needs {len(split.chunks)} parts; 255 at most")
        reference, ids, done = message.id.int & 0xFF, [], False
        with self._send_lock:
            link = self._bound_link()
            self._hold_receipts(len(split.chunks) > 1)  # until we know which parts belong together
            try:
                for index in range(len(split.chunks)):
                    ids.append(self._submit(link, split, index, reference, message.recipient.lstrip("+")))
                self._remember(self._submitted, ids[-1], self.clock())
                done = True
            finally:  # on failure the parts sent so far no longer count: the whole message goes again
                for part_id in ids[:-1] if done else ids:
                    self._remember(self._parts, part_id, ids[-1] if done else "")
                self._hold_receipts(False)
        detail = f"{len(ids)} part{'s' if len(ids) > 1 else ''}, {split.encoding}"
        return Sent(external_id=ids[-1] or None,
                    detail=detail + (f" (part ids {', '.join(ids)})" if len(ids) > 1 else ""))

    def _submit(self, link: _Link, split: Split, index: int, reference: int, destination: str) -> str:
        esm_class, short_message = user_data(split, index, reference, packed=self.packed)
        self.limiter.acquire()
        pdu = link.pdu("submit_sm", service_type="", source_addr_ton=self.source_ton,
                       source_addr_npi=self.source_npi, source_addr=self.source, dest_addr_ton=1, dest_addr_npi=1,
                       destination_addr=destination, esm_class=esm_class, protocol_id=0, priority_flag=0,
                       registered_delivery=1, replace_if_present_flag=0, data_coding=split.data_coding,
                       sm_default_msg_id=0, short_message=short_message)
        try:
            response = link.wait(pdu, self.response_timeout)
        except LinkLost as exc:
            raise TemporaryFailure(f"SMPP link lost: {exc}") from exc
        status = response.status
        if status == ROK and response.command == "submit_sm_resp":
            return _text(response.message_id)
        if status == RTHROTTLED:
            self.limiter.hold(self.throttle_pause)
        if status in TEMPORARY_STATUSES:
            raise TemporaryFailure(f"SMSC answered 0x{status:08X} ({TEMPORARY_STATUSES[status]})")
        reason = PERMANENT_STATUSES.get(status, "rejected")
        raise PermanentFailure(f"SMSC answered {response.command} 0x{status:08X} ({reason})")

    def _bound_link(self) -> _Link:
        with self._state_lock:
            self._state_lock.wait_for(lambda: self._state != CONNECTING, timeout=self.connect_timeout)
            if self._state != BOUND or self._link is None:
                raise TemporaryFailure(f"SMPP link {self._state}: {self._last_error}")
            return self._link

    @property
    def bound(self) -> bool:
        return self._state == BOUND

    def wait_bound(self, timeout: float = 5.0) -> bool:
        with self._state_lock:
            return self._state_lock.wait_for(lambda: self._state == BOUND, timeout=timeout)

    def close(self) -> None:
        """Unbind cleanly (waiting for a send in progress), then stop both threads."""
        with self._send_lock, self._state_lock:
            link, self._state, self._last_error = self._link, CLOSED, "closed"
            self._state_lock.notify_all()
        if link is not None and not link.error:
            with contextlib.suppress(LinkLost):
                link.wait(link.pdu("unbind"), min(self.response_timeout, 2.0))
        self._closing.set()
        if link is not None:
            link.fail("closed")
        self._inbox.put(None)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    # -- the session thread: bind, read, keep alive, rebind with backoff --
    def _session_loop(self) -> None:
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

    def _bind(self) -> _Link:
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(sock, self.numbers)
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

    def _read_loop(self, link: _Link) -> str:
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

    def _handle(self, link: _Link, pdu) -> bool:
        command = pdu.command
        if command == "deliver_sm":
            self._inbox.put((link, pdu))
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

    def _set_state(self, state: str, error: str | None = None, link: _Link | None = None) -> None:
        with self._state_lock:
            if self._state == CLOSED:
                return
            self._state, self._link = state, link
            if error:
                self._last_error = error
            self._state_lock.notify_all()

    # -- the listener thread: receipts and inbound SMS, answered once recorded --
    def _dispatch_loop(self) -> None:
        while (item := self._inbox.get()) is not None:
            link, pdu = item
            status = ROK
            try:
                self._deliver(pdu)
            except Exception:  # the SMSC delivers again later
                log.exception("smpp.deliver_sm_failed", sequence=pdu.sequence)
                status = RX_T_APPN
            with contextlib.suppress(LinkLost):
                link.reply(pdu.sequence, "deliver_sm_resp", status)

    def _deliver(self, pdu) -> None:
        kind = (pdu.esm_class or 0) & 0x3C
        if kind in RECEIPT_TYPES:
            receipt = parse_receipt(pdu)
            if receipt is None:
                log.warning("smpp.unreadable_receipt", sequence=pdu.sequence)
            else:
                self._receipt(*receipt)
        elif kind == 0:
            self._inbound(pdu)

    def _receipt(self, message_id: str, stat: str) -> None:
        with self._state_lock:  # a part's receipt may overtake the submit_sm_resp of the next part
            self._state_lock.wait_for(lambda: not self._holding, timeout=2 * self.response_timeout)
        self._report(message_id, stat)

    def _report(self, message_id: str, stat: str) -> None:
        failed = stat in FAILED_STATES
        with self._state_lock:
            last = self._parts.get(message_id, message_id)
            if last == "":
                return  # a part of a message that failed and was sent again
            if not failed and (last != message_id or last in self._failed):
                return  # only the last part's receipt speaks for the message, and never over a failed part
            submitted = self._submitted.get(last)
        if submitted is not None and (wait := submitted + self.receipt_hold - self.clock()) > 0:
            time.sleep(wait)  # let the worker commit Sent.external_id first
        if self.listener is not None:
            self.listener.receipt(last, stat)
        if failed:
            self._remember(self._failed, last, None)

    def _inbound(self, pdu) -> None:
        coding, content = (pdu.data_coding or 0), _content(pdu)
        sender = _text(pdu.source_addr)
        sender = "+" + sender if sender.isdigit() else sender
        payload, part = _concatenation(content) if (pdu.esm_class or 0) & UDHI else (content, None)
        if coding == GSM7 and self.packed:  # septets start at the next septet boundary after the UDH
            payload = unpack_septets(payload, fill_bits=-(len(content) - len(payload)) * 8 % 7)
        key = None
        if part is not None:
            key = (sender, part[0], part[1])
            with self._state_lock:
                pieces = self._mo_parts.setdefault(key, {})
                pieces[part[2]] = payload
                while len(self._mo_parts) > 1000:
                    self._mo_parts.popitem(last=False)
                if len(pieces) < part[1]:
                    return
                payload = b"".join(pieces[seq] for seq in sorted(pieces))
        if self.listener is not None:
            self.listener.inbound(sender, decode_user_data(coding, payload))
        if key is not None:  # only once recorded: if recording failed, the SMSC delivers the last part again
            with self._state_lock:
                self._mo_parts.pop(key, None)

    # -- bookkeeping --
    def _remember(self, table: OrderedDict, key: str, value) -> None:
        with self._state_lock:
            table[key] = value
            table.move_to_end(key)
            while len(table) > 100_000:
                table.popitem(last=False)

    def _hold_receipts(self, holding: bool) -> None:
        with self._state_lock:
            self._holding = holding
            self._state_lock.notify_all()
