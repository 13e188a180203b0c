"""A small SMPP 3.4 SMSC for the tests and the benchmark, on 127.0.0.1 and a free port.

It accepts bind_transceiver (checking system_id and password), answers submit_sm with a message id and records
every PDU it gets. A test can make it answer the next submit_sm with an error status, drop the connection (now,
or instead of answering the next submit_sm), refuse binds, send a delivery receipt or an inbound (MO) SMS, send
its own enquire_link, and play a USSD gateway: `deliver_ussd` sends what a handset typed (service_type USSD with
ussd_service_op and its_session_info) and `ussd_answers` reads the submit_sm answers with their TLVs.

    with Smsc() as smsc:
        sender = SmppSender(smsc.url())
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlencode

from smpplib import smpp

from simkeep.notification import segments
from simkeep.notification.senders.smpp import ussd  # noqa: F401  (smpplib's deliver_sm learns ussd_service_op)
from simkeep.notification.senders.smpp.codec import decode_user_data

RINVPASWD, RBINDFAIL = 0x0E, 0x0D


@dataclass
class Received:
    """One PDU as the SMSC got it (short_message split into UDH and user data when esm_class says so)."""

    command: str
    sequence: int
    status: int
    at: float  # time.monotonic() on arrival
    fields: dict = field(default_factory=dict)
    message_id: str | None = None  # what the SMSC answered a submit_sm with

    def __getattr__(self, name):
        try:
            return self.__dict__["fields"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def udh(self) -> bytes:
        sm = self.fields.get("short_message") or b""
        return sm[:sm[0] + 1] if self.fields.get("esm_class", 0) & 0x40 and sm else b""

    @property
    def user_data(self) -> bytes:
        return (self.fields.get("short_message") or b"")[len(self.udh):]

    @property
    def concatenation(self) -> tuple[int, int, int] | None:
        """(reference, total, seq) from an 8-bit concatenation IE (00 03 ref total seq)."""
        udh = self.udh
        return (udh[3], udh[4], udh[5]) if len(udh) == 6 and udh[1:3] == b"\x00\x03" else None

    @property
    def text(self) -> str:
        """The user data as text (GSM-7 one septet per octet, or UCS-2)."""
        return decode_user_data(self.fields.get("data_coding", 0), self.user_data)


_FIELDS = ("system_id", "password", "system_type", "service_type", "source_addr_ton", "source_addr_npi",
           "source_addr", "dest_addr_ton", "dest_addr_npi", "destination_addr", "esm_class", "registered_delivery",
           "data_coding", "short_message", "message_id", "ussd_service_op", "its_session_info")


class _Numbers:
    def __init__(self) -> None:
        self._lock, self._count, self.sequence = threading.Lock(), itertools.count(1), 0

    def next_sequence(self) -> int:
        with self._lock:
            self.sequence = next(self._count)
            return self.sequence


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.lock, self.bound = sock, threading.Lock(), False
        self.waiting: dict[int, tuple[threading.Event, list]] = {}

    def write(self, pdu) -> None:
        data = pdu.generate()
        with self.lock:
            self.sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class Smsc:
    def __init__(self, system_id: str = "simkeep", password: str = "secret", *, record: bool = True) -> None:
        self.system_id, self.password, self.record = system_id, password, record
        self.received: list[Received] = []
        self.refuse_binds = False
        self.silent = False  # read and record, answer nothing (a hung SMSC)
        self.binds = 0
        self._answers: deque[int | str] = deque()  # status for the next submit_sm, or "drop"
        self._ids = itertools.count(0x10000)
        self._numbers = _Numbers()
        self._connections: list[_Connection] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]

    # -- lifecycle --
    def __enter__(self) -> Smsc:
        self.start()
        return self

    def __exit__(self, *_) -> None:
        self.stop()

    def start(self) -> None:
        self._spawn(self._accept_loop)

    def stop(self) -> None:
        self._stopping = True
        self.drop()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def url(self, password: str | None = None, **query) -> str:
        params = urlencode(query)
        return (f"smpp://{self.system_id}:{self.password if password is None else password}@127.0.0.1:{self.port}"
                + (f"?{params}" if params else ""))

    # -- what it got --
    def commands(self, name: str) -> list[Received]:
        return [pdu for pdu in list(self.received) if pdu.command == name]

    @property
    def submits(self) -> list[Received]:
        return self.commands("submit_sm")

    @property
    def bound(self) -> int:
        with self._lock:
            return sum(1 for c in self._connections if c.bound)

    # -- what it will do --
    def answer_next_submit(self, status: int) -> None:
        self._answers.append(status)

    def drop_next_submit(self) -> None:
        """Close the connection on the next submit_sm, without answering it."""
        self._answers.append("drop")

    def drop(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def deliver_receipt(self, message_id: str, stat: str = "DELIVRD", *, err: str = "000",
                        timeout: float = 10.0) -> int:
        """A delivery receipt for `message_id`; returns the deliver_sm_resp status."""
        text = (f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} submit date:2703010900 "
                f"done date:2703010901 stat:{stat} err:{err} text:")
        return self._request("deliver_sm", timeout, source_addr_ton=1, source_addr_npi=1, source_addr="33612345678",
                             dest_addr_ton=5, dest_addr_npi=0, destination_addr="simkeep", esm_class=0x04,
                             data_coding=0, short_message=text.encode("ascii"), receipted_message_id=message_id,
                             message_state={"DELIVRD": 2, "EXPIRED": 3, "UNDELIV": 5, "REJECTD": 8}.get(stat))

    def deliver_mo(self, source: str, text: str, *, message_id: str | None = None, timeout: float = 10.0,
                   connection: int = -1, **fields) -> int:
        """An SMS from a subscriber (`source` in international format, without '+'): GSM-7 one septet per
        octet if it fits, else UCS-2. `message_id`: the SMSC's id for it, sent as the receipted_message_id TLV
        as many SMSCs do for MO messages (none: no TLV). `connection`: which bound ESME gets it (the latest by
        default). Returns the deliver_sm_resp status."""
        coding, data = (0, segments.gsm7_codes(text)) if segments.is_gsm7(text) else (8, text.encode("utf-16-be"))
        values = dict(source_addr_ton=1, source_addr_npi=1, source_addr=source, dest_addr_ton=5, dest_addr_npi=0,
                      destination_addr="simkeep", esm_class=0, data_coding=coding, short_message=data,
                      receipted_message_id=message_id)
        return self._request("deliver_sm", timeout, connection, **{**values, **fields})

    def deliver_ussd(self, source: str, text: str, op: int, session_info: int | None, *, timeout: float = 10.0,
                     **fields) -> int:
        """What a handset typed in a USSD dialogue (`op` 1 to open it, 18 to answer our screen), as a USSD
        gateway hands it over; returns the deliver_sm_resp status."""
        coding, data = (0, segments.gsm7_codes(text)) if segments.is_gsm7(text) else (8, text.encode("utf-16-be"))
        values = dict(service_type="USSD", source_addr_ton=1, source_addr_npi=1, source_addr=source, dest_addr_ton=0,
                      dest_addr_npi=0, destination_addr="100", esm_class=0, data_coding=coding, short_message=data,
                      ussd_service_op=op, its_session_info=session_info)
        return self._request("deliver_sm", timeout, **{**values, **fields})

    @property
    def ussd_answers(self) -> list[Received]:
        return [pdu for pdu in self.submits if pdu.fields.get("service_type") == "USSD"]

    def enquire_link(self, timeout: float = 10.0) -> int:
        return self._request("enquire_link", timeout)

    def wait_until(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()

    # -- server side --
    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="test-smsc")
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping:
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(sock)
            with self._lock:
                self._connections.append(connection)
            self._spawn(self._serve, connection)

    def _serve(self, connection: _Connection) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while True:
                header = self._exact(connection.sock, 4)
                raw = header + self._exact(connection.sock, struct.unpack(">L", header)[0] - 4)
                pdu = smpp.parse_pdu(raw, client=self._numbers, allow_unknown_opt_params=True)
                if not self._handle(connection, pdu):
                    break
        connection.close()
        with self._lock, contextlib.suppress(ValueError):
            self._connections.remove(connection)

    def _handle(self, connection: _Connection, pdu) -> bool:
        received = Received(pdu.command, pdu.sequence, pdu.status, time.monotonic(),
                            {name: _plain(name, getattr(pdu, name, None)) for name in _FIELDS
                             if getattr(pdu, name, None) is not None})
        if self.record:
            self.received.append(received)
        if self.silent:
            return True
        command = pdu.command
        if command == "bind_transceiver":
            ok = not self.refuse_binds and (received.fields.get("system_id"), received.fields.get("password")) == (
                self.system_id, self.password)
            status = 0 if ok else (RBINDFAIL if self.refuse_binds else RINVPASWD)
            if ok:  # counted before answering: the ESME may look as soon as it has the answer
                connection.bound = True
                self.binds += 1
            self._reply(connection, pdu, "bind_transceiver_resp", status, system_id="testsmsc")
            return ok
        if command in ("bind_transmitter", "bind_receiver"):
            self._reply(connection, pdu, f"{command}_resp", RBINDFAIL)
            return False
        if command == "submit_sm":
            answer = self._answers.popleft() if self._answers else 0
            if answer == "drop":
                return False
            message_id = f"{next(self._ids):X}" if answer == 0 else None
            received.message_id = message_id
            self._reply(connection, pdu, "submit_sm_resp", answer, message_id=message_id)
        elif command == "enquire_link":
            self._reply(connection, pdu, "enquire_link_resp")
        elif command == "unbind":
            self._reply(connection, pdu, "unbind_resp")
            return False
        elif pdu.is_response():
            waiting = connection.waiting.pop(pdu.sequence, None)
            if waiting:
                waiting[1].append(pdu.status)
                waiting[0].set()
        else:
            self._reply(connection, pdu, "generic_nack", 0x03)
        return True

    def _reply(self, connection: _Connection, request, command: str, status: int = 0, **fields) -> None:
        pdu = smpp.make_pdu(command, client=self._numbers, status=status, **fields)
        pdu.sequence = request.sequence
        connection.write(pdu)

    def _request(self, command: str, timeout: float, which: int = -1, **fields) -> int:
        with self._lock:
            bound = [c for c in self._connections if c.bound]
        if not bound:
            raise RuntimeError("no bound ESME")
        connection = bound[which]
        pdu = smpp.make_pdu(command, client=self._numbers, **{k: v for k, v in fields.items() if v is not None})
        done, status = threading.Event(), []
        connection.waiting[pdu.sequence] = (done, status)
        connection.write(pdu)
        if not done.wait(timeout):
            raise TimeoutError(f"no {command}_resp within {timeout} s")
        return status[0]

    @staticmethod
    def _exact(sock: socket.socket, size: int) -> bytes:
        chunks = []
        while size:
            chunk = sock.recv(size)
            if not chunk:
                raise ConnectionError("closed")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)


def _plain(name: str, value):
    """smpplib gives C-strings as bytes; short_message stays bytes, the rest becomes text."""
    return value.decode("latin-1") if isinstance(value, bytes) and name != "short_message" else value
