"""SmppSender: the Sender for channel "sms", over the session in `link` with user data from `codec`.

Message ids: every part gets its own SMSC id and its own receipt. `Sent.external_id` is the id of the last
part, the one whose receipt the outbox row records (record_receipt matches that exact id). Receipts for the
other parts are folded into it while this process remembers them: a failed part reports its failure under the
last part's id, and a failure is never overwritten by a later DELIVRD.

URL: smpp://SYSTEM_ID:PASSWORD@HOST:PORT?source=simkeep&enquire_link=30&reconnect=1&timeout=10&gsm7=unpacked
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qsl, unquote, urlsplit

import structlog

from simkeep.core import clock as wall_clock
from simkeep.core.failures import describe
from simkeep.notification.senders.base import CONTENT_ID, Listener, Outgoing, PermanentFailure, Sent, TemporaryFailure
from simkeep.notification.senders.smpp import ussd
from simkeep.notification.senders.smpp.codec import (
    FAILED_STATES,
    GSM7,
    RECEIPT_TYPES,
    UDHI,
    Split,
    c_string,
    decode_user_data,
    message_content,
    parse_receipt,
    split_text,
    strip_udh,
    unpack_septets,
    user_data,
)
from simkeep.notification.senders.smpp.link import (
    RINVBNDSTS,
    RINVDSTADR,
    RINVSRCADR,
    RMSGQFUL,
    ROK,
    RSYSERR,
    RTHROTTLED,
    RX_T_APPN,
    Link,
    LinkLost,
    Session,
)

log = structlog.get_logger()

TEMPORARY_STATUSES = {RINVBNDSTS: "incorrect bind status", RSYSERR: "system error", RMSGQFUL: "message queue full",
                      RTHROTTLED: "throttled", RX_T_APPN: "temporary application error"}
PERMANENT_STATUSES = {RINVSRCADR: "invalid source address", RINVDSTADR: "invalid destination address"}
_E164 = re.compile(r"\+?[1-9][0-9]{6,14}")
_QUERY = {"source", "source_ton", "source_npi", "system_type", "enquire_link", "reconnect", "timeout", "gsm7"}


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


# --- inbound message ids -----------------------------------------------------------------------------------
def mo_message_id(pdu, sender: str, text: str, part: tuple[int, int, int] | None) -> str:
    """What identifies an inbound SMS, so that a deliver_sm the SMSC sends again acts once. SMPP 3.4 gives an MO
    deliver_sm no message_id field; many SMSCs put theirs in the `receipted_message_id` TLV, and it is taken
    when present. Otherwise a digest of what the message is (sender, destination, text and, for a concatenated
    message, its reference and part count): the same text sent again later has the same digest, so
    record_inbound treats a digest as the same message only within a redelivery window."""
    if tlv := c_string(pdu.receipted_message_id):
        return tlv[:64]
    reference = f"{part[0]}/{part[1]}" if part else ""
    content = "\x1f".join((sender, c_string(pdu.destination_addr), reference, text))
    return CONTENT_ID + hashlib.sha256(content.encode()).hexdigest()[:40]


# --- the sender -------------------------------------------------------------------------------------------
def _source_address(source: str) -> tuple[str, int, int]:
    """source_addr and its default TON/NPI."""
    digits = source.lstrip("+")
    if digits.isdigit():  # an international number, or a short code (network specific)
        return (digits, 1, 1) if source.startswith("+") or len(digits) > 8 else (digits, 3, 0)
    if len(source) <= 11 and source.isascii() and source.isprintable():
        return source, 5, 0  # alphanumeric
    raise ValueError("an alphanumeric sender has 11 ASCII characters at most")


class SmppSender:
    """Sender for channel "sms". `listener` records receipts and inbound SMS (tasks.DbListener)."""

    def __init__(self, url: str, *, listener: Listener | None = None, rate_per_second: float = 0.0, burst: int = 1,
                 connect_timeout: float = 5.0, reconnect_max: float = 60.0, throttle_pause: float = 1.0,
                 receipt_hold: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        if parts.scheme != "smpp" or not parts.hostname or not parts.port or set(query) - _QUERY:
            raise ValueError(f"expected smpp://SYSTEM_ID:PASSWORD@HOST:PORT[?{'&'.join(sorted(_QUERY))}]")
        system_id, password = unquote(parts.username or ""), unquote(parts.password or "")
        if len(system_id) > 15 or len(password) > 8 or not (system_id + password).isascii():
            raise ValueError("SMPP 3.4 allows an ASCII system_id of 15 and password of 8 characters at most")
        # a '+' left unescaped in the URL reads as a space
        self.source, ton, npi = _source_address(query.get("source", "simkeep").strip())
        self.source_ton, self.source_npi = int(query.get("source_ton", ton)), int(query.get("source_npi", npi))
        enquire_link_seconds, reconnect_min = float(query.get("enquire_link", 30)), float(query.get("reconnect", 1))
        self.response_timeout = float(query.get("timeout", 10))
        self.packed = query.get("gsm7", "unpacked") == "packed"
        self.listener, self.throttle_pause, self.receipt_hold, self.clock = listener, throttle_pause, receipt_hold, clock
        self.limiter = RateLimiter(rate_per_second, burst, clock=clock)
        self._inbox: queue.Queue = queue.Queue()
        self.session = Session(parts.hostname, parts.port, system_id=system_id, password=password,
                               system_type=query.get("system_type", ""), enquire_link_seconds=enquire_link_seconds,
                               reconnect_min=reconnect_min, reconnect_max=reconnect_max,
                               response_timeout=self.response_timeout, connect_timeout=connect_timeout, clock=clock,
                               inbox=self._inbox)
        # Receipt bookkeeping (see the module docstring), bounded: part id -> last part id ("" = a part of a
        # message that failed and goes again), last-part ids already failed, submit times.
        self._lock = threading.Condition()  # guards the bookkeeping
        self._parts: OrderedDict[str, str] = OrderedDict()
        self._failed: OrderedDict[str, None] = OrderedDict()
        self._submitted: OrderedDict[str, float] = OrderedDict()
        self._holding = False
        self._mo_parts: OrderedDict[tuple, dict[int, bytes]] = OrderedDict()
        self._threads = [threading.Thread(target=self.session.run, name="smpp-session", daemon=True),
                         threading.Thread(target=self._dispatch_loop, name="smpp-listener", daemon=True)]
        for thread in self._threads:
            thread.start()

    # -- sending --
    def send(self, message: Outgoing) -> Sent:
        if not _E164.fullmatch(message.recipient):
            raise PermanentFailure(f"not an E.164 number: {message.recipient!r}")
        if message.channel == ussd.CHANNEL:
            return self._send_ussd(message)
        split = split_text(message.text)
        if len(split.chunks) > 255:
            raise PermanentFailure(f"text needs {len(split.chunks)} parts; 255 at most")
        reference, ids, done = message.id.int & 0xFF, [], False
        with self.session.bound_link() as link:
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

    def _send_ussd(self, message: Outgoing) -> Sent:
        """One USSD screen in one submit_sm, never after the session it answers has timed out."""
        if datetime.fromisoformat(message.payload["until"]) <= wall_clock.now():
            raise PermanentFailure("USSD session over before its answer could go out")
        with self.session.bound_link() as link:
            pdu = link.pdu("submit_sm", source_addr_ton=self.source_ton, source_addr_npi=self.source_npi,
                           source_addr=self.source, **ussd.submit_fields(message.payload,
                                                                        message.recipient.lstrip("+"),
                                                                        packed=self.packed))
            return Sent(external_id=self._submitted_id(link, pdu) or None, detail="USSD")

    def _submit(self, link: Link, split: Split, index: int, reference: int, destination: str) -> str:
        esm_class, short_message = user_data(split, index, reference, packed=self.packed)
        self.limiter.acquire()
        pdu = link.pdu("submit_sm", service_type="", source_addr_ton=self.source_ton,
                       source_addr_npi=self.source_npi, source_addr=self.source, dest_addr_ton=1, dest_addr_npi=1,
                       destination_addr=destination, esm_class=esm_class, protocol_id=0, priority_flag=0,
                       registered_delivery=1, replace_if_present_flag=0, data_coding=split.data_coding,
                       sm_default_msg_id=0, short_message=short_message)
        return self._submitted_id(link, pdu)

    def _submitted_id(self, link: Link, pdu) -> str:
        try:
            response = link.wait(pdu, self.response_timeout)
        except LinkLost as exc:
            raise TemporaryFailure(f"SMPP link lost: {exc}") from exc
        status = response.status
        if status == ROK and response.command == "submit_sm_resp":
            return c_string(response.message_id)
        if status == RTHROTTLED:
            self.limiter.hold(self.throttle_pause)
        if status in TEMPORARY_STATUSES:
            raise TemporaryFailure(f"SMSC answered 0x{status:08X} ({TEMPORARY_STATUSES[status]})")
        reason = PERMANENT_STATUSES.get(status, "rejected")
        raise PermanentFailure(f"SMSC answered {response.command} 0x{status:08X} ({reason})")

    @property
    def bound(self) -> bool:
        return self.session.bound

    def wait_bound(self, timeout: float = 5.0) -> bool:
        return self.session.wait_bound(timeout)

    def close(self) -> None:
        """Unbind cleanly (waiting for a send in progress), then stop both threads."""
        self.session.close()
        self._inbox.put(None)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    # -- the listener thread: receipts and inbound SMS, answered once recorded --
    def _dispatch_loop(self) -> None:
        while (item := self._inbox.get()) is not None:
            link, pdu = item
            status = ROK
            try:
                self._deliver(pdu)
            except Exception as exc:  # the SMSC delivers again later
                # No traceback: its local variables would show the text (a card PIN), its message SQL parameters.
                log.error("smpp.deliver_sm_failed", sequence=pdu.sequence, **describe(exc))
                status = RX_T_APPN
            with contextlib.suppress(LinkLost):
                link.reply(pdu.sequence, "deliver_sm_resp", status)

    def _deliver(self, pdu) -> None:
        kind = (pdu.esm_class or 0) & 0x3C
        if ussd.is_ussd(pdu):
            if self.listener is not None:
                self.listener.ussd(ussd.read(pdu, packed=self.packed))
        elif kind in RECEIPT_TYPES:
            receipt = parse_receipt(pdu)
            if receipt is None:
                log.warning("smpp.unreadable_receipt", sequence=pdu.sequence)
            else:
                self._receipt(*receipt)
        elif kind == 0:
            self._inbound(pdu)

    def _receipt(self, message_id: str, stat: str) -> None:
        with self._lock:  # a part's receipt may overtake the submit_sm_resp of the next part
            self._lock.wait_for(lambda: not self._holding, timeout=2 * self.response_timeout)
        self._report(message_id, stat)

    def _report(self, message_id: str, stat: str) -> None:
        failed = stat in FAILED_STATES
        with self._lock:
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
        coding, content = (pdu.data_coding or 0), message_content(pdu)
        sender = c_string(pdu.source_addr)
        sender = "+" + sender if sender.isdigit() else sender
        payload, part = strip_udh(content) if (pdu.esm_class or 0) & UDHI else (content, None)
        if coding == GSM7 and self.packed:  # septets start at the next septet boundary after the UDH
            payload = unpack_septets(payload, fill_bits=-(len(content) - len(payload)) * 8 % 7)
        key = None
        if part is not None:
            key = (sender, part[0], part[1])
            with self._lock:
                pieces = self._mo_parts.setdefault(key, {})
                pieces[part[2]] = payload
                while len(self._mo_parts) > 1000:
                    self._mo_parts.popitem(last=False)
                if len(pieces) < part[1]:
                    return
                payload = b"".join(pieces[seq] for seq in sorted(pieces))
        if self.listener is not None:
            text = decode_user_data(coding, payload)
            self.listener.inbound(sender, text, mo_message_id(pdu, sender, text, part))
        if key is not None:  # only once recorded: if recording failed, the SMSC delivers the last part again
            with self._lock:
                self._mo_parts.pop(key, None)

    # -- bookkeeping --
    def _remember(self, table: OrderedDict, key: str, value) -> None:
        with self._lock:
            table[key] = value
            table.move_to_end(key)
            while len(table) > 100_000:
                table.popitem(last=False)

    def _hold_receipts(self, holding: bool) -> None:
        with self._lock:
            self._holding = holding
            self._lock.notify_all()
