"""Osmocom's HLR (osmo-hlr, checked against Debian's 1.5.0) over CTRL (IPA framing, TCP) and VTY (telnet).

URL: `osmo-hlr://HOST:CTRL_PORT?vty=VTY_PORT&timeout=SECONDS` (CTRL 4259 and VTY 4258 are osmo-hlr's ports; without
`vty` the access mode is set over CTRL too; `timeout` bounds each connect and each reply, 5 s by default).

CTRL creates, deletes and reads subscribers (`subscriber.create`, `subscriber.delete`, `subscriber.by-imsi-X.info`)
and sets the number (`…msisdn`, `none` clears it). The access mode goes through the VTY's `subscriber imsi X update
network-access-mode (none|cs|ps|cs+ps)` when configured: CTRL's `cs-enabled`/`ps-enabled` only write the HLR's
database, which the serving network reads at the subscriber's next location update, while the VTY command also sends
the serving MSC/VLR and SGSN a GSUP Delete Subscriber Data when it takes access away, so a suspension bites at once
(access given back still waits for the next location update). For the same reason a subscriber with access is barred
through the VTY before it is deleted.

Numbers: simkeep's MSISDNs are E.164 with a "+"; the HLR holds the digits (it refuses "+"), so the "+" is dropped on
the way in and put back on the way out.

`apply` reads what the HLR holds first and changes only what differs, so applying the same state twice writes
nothing (deleting an absent subscriber included). One adapter keeps one connection to each interface; a lock makes it
safe to share between threads, but each request waits for the previous one: give each worker thread its own adapter
for parallel sends.
"""

from __future__ import annotations

import itertools
import re
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import parse_qs, urlsplit

from simkeep.network.adapters import Held, Rejected, Unavailable
from simkeep.network.models import ABSENT, CS, CS_PS, NONE, PS

DEFAULT_TIMEOUT = 5.0
MODE_OF_FLAGS = {(False, False): NONE, (True, False): CS, (False, True): PS, (True, True): CS_PS}
FLAGS_OF_MODE = {mode: flags for flags, mode in MODE_OF_FLAGS.items()}
_IMSI, _MSISDN = re.compile(r"[0-9]{6,15}"), re.compile(r"\+[0-9]{1,15}")
NO_SUCH_SUBSCRIBER = "No such subscriber."
ALREADY_EXISTS = "Subscriber already exists."
DOES_NOT_EXIST = "Subscriber doesn't exist."


class OsmoHlr:
    def __init__(self, host: str, ctrl_port: int, vty_port: int | None = None, timeout: float = DEFAULT_TIMEOUT):
        self.ctrl = CtrlClient(host, ctrl_port, timeout)
        self.vty = VtyClient(host, vty_port, timeout) if vty_port else None
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> OsmoHlr:
        parts = urlsplit(url)
        if parts.scheme != "osmo-hlr" or not parts.hostname or not parts.port:
            raise ValueError("an osmo-hlr URL reads osmo-hlr://HOST:CTRL_PORT?vty=VTY_PORT")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        vty = int(query["vty"]) if query.get("vty") else None
        return cls(parts.hostname, parts.port, vty, float(query.get("timeout", DEFAULT_TIMEOUT)))

    def apply(self, held: Held) -> None:
        _check(held)
        with self._lock:
            current = self._read(held.imsi)
            if held.mode == ABSENT:
                if current.mode != ABSENT:
                    self._remove(current)
                return
            if current.mode == ABSENT:
                self._create(held.imsi)
                current = Held(held.imsi, None, CS_PS)  # what a new subscriber holds
            if current.mode != held.mode:  # narrowing access first, before the number is (re)assigned
                self._set_mode(held.imsi, current.mode, held.mode)
            if current.msisdn != held.msisdn:
                self._set_number(held.imsi, held.msisdn)

    def read(self, imsi: str) -> Held:
        _check(Held(imsi, None, ABSENT))
        with self._lock:
            return self._read(imsi)

    def read_many(self, imsis: Iterable[str]) -> dict[str, Held]:
        """What the HLR holds for each IMSI (ABSENT for those it does not know), for the drift check's batches:
        the reads are pipelined on the CTRL connection."""
        imsis = list(imsis)
        for imsi in imsis:
            _check(Held(imsi, None, ABSENT))
        with self._lock:
            replies = self.ctrl.get_many([f"subscriber.by-imsi-{imsi}.info" for imsi in imsis])
        return {imsi: _held(imsi, reply) for imsi, reply in zip(imsis, replies, strict=True)}

    def close(self) -> None:
        self.ctrl.close()
        if self.vty:
            self.vty.close()

    def _read(self, imsi: str) -> Held:
        return _held(imsi, self.ctrl.get_many([f"subscriber.by-imsi-{imsi}.info"])[0])

    def _create(self, imsi: str) -> None:
        try:
            self.ctrl.set("subscriber.create", imsi)
        except Rejected as error:
            if str(error) != ALREADY_EXISTS:  # created in between by someone else: as good
                raise

    def _remove(self, current: Held) -> None:
        """Bar first through the VTY, which tells the serving network (a delete does not), then delete."""
        if self.vty and current.mode != NONE:
            self._set_mode(current.imsi, current.mode, NONE)
        try:
            self.ctrl.set("subscriber.delete", current.imsi)
        except Rejected as error:
            if str(error) != DOES_NOT_EXIST:  # deleted in between by someone else: what was asked
                raise

    def _set_number(self, imsi: str, msisdn: str | None) -> None:
        try:
            self.ctrl.set(f"subscriber.by-imsi-{imsi}.msisdn", _hlr_number(msisdn))
        except Rejected as error:
            holder = self._holder(msisdn) if msisdn else None
            if holder and holder != imsi:  # the HLR only says "Update MSISDN failed"
                raise Rejected(f"{error}: the number is held by IMSI {_masked(holder)}") from None
            raise

    def _holder(self, msisdn: str) -> str | None:
        try:
            info = self.ctrl.get(f"subscriber.by-msisdn-{_hlr_number(msisdn)}.info")
        except Rejected:
            return None
        return _fields(info).get("imsi")

    def _set_mode(self, imsi: str, current: str, mode: str) -> None:
        if self.vty:
            self.vty.command(f"subscriber imsi {imsi} update network-access-mode {mode}")
            return
        (cs_now, ps_now), (cs, ps) = FLAGS_OF_MODE[current], FLAGS_OF_MODE[mode]
        if cs != cs_now:
            self.ctrl.set(f"subscriber.by-imsi-{imsi}.cs-enabled", str(int(cs)))
        if ps != ps_now:
            self.ctrl.set(f"subscriber.by-imsi-{imsi}.ps-enabled", str(int(ps)))


def _check(held: Held) -> None:
    """Digits only, as the HLR stores them: anything else would be refused, or read as more words of a command. An
    MSISDN without its "+" would be read back with one, and look like drift forever."""
    if not _IMSI.fullmatch(held.imsi):
        raise Rejected("not an IMSI (6 to 15 digits)")
    if held.msisdn is not None and not _MSISDN.fullmatch(held.msisdn):
        raise Rejected("not an MSISDN (E.164: +, then up to 15 digits)")


def _masked(imsi: str) -> str:
    """The network (MCC-MNC) and the last two digits, as on simkeep's pages and in its logs."""
    return imsi[:5] + "*" * max(len(imsi) - 7, 0) + imsi[-2:]


def _held(imsi: str, info: str | Rejected) -> Held:
    """What an `info` reply says the HLR holds."""
    if isinstance(info, Rejected):
        if str(info) == NO_SUCH_SUBSCRIBER:
            return Held(imsi, None, ABSENT)
        raise info
    fields = _fields(info)
    mode = MODE_OF_FLAGS[fields.get("nam_cs") == "1", fields.get("nam_ps") == "1"]
    return Held(imsi, _simkeep_number(fields.get("msisdn")), mode)


def _fields(info: str) -> dict[str, str]:
    """The `info` reply: one "name<TAB>value" per line (msisdn missing when none)."""
    return dict(line.split("\t", 1) for line in info.splitlines() if "\t" in line)


def _hlr_number(msisdn: str | None) -> str:
    return msisdn.removeprefix("+") if msisdn else "none"


def _simkeep_number(digits: str | None) -> str | None:
    return f"+{digits}" if digits and digits != "none" else None


class CtrlClient:
    """Osmocom's CTRL protocol: text commands in IPA frames (2-byte length, protocol 0xEE "OSMO", extension 0x00
    CTRL). `GET <id> <var>` / `SET <id> <var> <value>` are answered by `GET_REPLY|SET_REPLY <id> <var> <value>` or
    `ERROR <id> <reason>`; TRAPs and replies to other ids (from a request that timed out) are skipped, IPA PINGs
    answered. `get_many` pipelines: it sends up to WINDOW requests at once on the one connection, then reads their
    replies (about twice as fast as one request per round trip).

    A kept connection found broken (the HLR restarted since its last use) is reopened once and the request sent
    again: every request simkeep sends is safe to repeat. A timeout is not retried."""

    IPA_CCM, IPA_OSMO, EXT_CTRL = 0xFE, 0xEE, 0x00
    PING, PONG = 0x00, 0x01
    WINDOW = 100  # libosmocore queues at most 100 replies per CTRL connection and drops what does not fit

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: socket.socket | None = None
        self._buffer, self._at = b"", 0
        self._ids = itertools.count(1)

    def get(self, variable: str) -> str:
        return _raise_rejected(self._retrying(lambda: self._exchange([("GET", variable, None)]))[0])

    def set(self, variable: str, value: str) -> str:
        return _raise_rejected(self._retrying(lambda: self._exchange([("SET", variable, value)]))[0])

    def get_many(self, variables: list[str]) -> list[str | Rejected]:
        """Each variable's value, or the HLR's refusal (as a Rejected, not raised), in order."""
        results: list[str | Rejected] = []
        for start in range(0, len(variables), self.WINDOW):
            window = [("GET", variable, None) for variable in variables[start:start + self.WINDOW]]
            results += self._retrying(lambda: self._exchange(window))  # noqa: B023 (called at once)
        return results

    def close(self) -> None:
        if self._sock:
            self._sock.close()
            self._sock = None
        self._buffer, self._at = b"", 0

    def _retrying(self, exchange: Callable[[], list[str | Rejected]]) -> list[str | Rejected]:
        reused = self._sock is not None
        try:
            return exchange()
        except (OSError, EOFError) as error:
            self.close()
            if not reused or isinstance(error, TimeoutError):
                raise Unavailable(f"osmo-hlr CTRL {self.host}:{self.port}: {_describe(error)}") from None
        try:  # the kept connection had broken (the HLR restarted, say): once more on a new one
            return exchange()
        except (OSError, EOFError) as error:
            self.close()
            raise Unavailable(f"osmo-hlr CTRL {self.host}:{self.port}: {_describe(error)}") from None

    def _exchange(self, requests: Sequence[tuple[str, str, str | None]]) -> list[str | Rejected]:
        """Send the requests at once, then read their replies."""
        sock = self._connection()
        pending: dict[str, tuple[int, str, str]] = {}
        out = bytearray()
        for index, (verb, variable, value) in enumerate(requests):
            request_id = str(next(self._ids))
            pending[request_id] = (index, f"{verb}_REPLY", variable)
            text = f"{verb} {request_id} {variable}" + (f" {value}" if value is not None else "")
            payload = bytes([self.EXT_CTRL]) + text.encode()
            out += struct.pack(">HB", len(payload), self.IPA_OSMO) + payload
        sock.sendall(out)
        results: list[str | Rejected] = [""] * len(requests)
        while pending:
            protocol, data = self._frame(sock)
            if protocol == self.IPA_CCM:
                if data[:1] == bytes([self.PING]):
                    sock.sendall(struct.pack(">HBB", 1, self.IPA_CCM, self.PONG))
                continue
            if protocol != self.IPA_OSMO or data[:1] != bytes([self.EXT_CTRL]):
                continue
            verb, _, rest = data[1:].decode(errors="replace").partition(" ")
            reply_id, _, rest = rest.partition(" ")
            if reply_id not in pending:
                continue  # a TRAP, or the late reply to a request given up on
            index, kind, variable = pending.pop(reply_id)
            if verb == "ERROR":
                results[index] = Rejected(rest.strip())
                continue
            name, _, value = rest.partition(" ")
            if verb != kind or name != variable:
                raise EOFError(f"unexpected reply {verb} {name}")
            results[index] = value.strip()
        return results

    def _connection(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._sock

    def _frame(self, sock: socket.socket) -> tuple[int, bytes]:
        """The next frame; what was received beyond it stays in the buffer (read from an offset, not copied)."""
        buffer, at = self._buffer, self._at
        while len(buffer) - at < 3 or len(buffer) - at < 3 + int.from_bytes(buffer[at:at + 2], "big"):
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            buffer, at = buffer[at:] + chunk, 0
        length, protocol = struct.unpack_from(">HB", buffer, at)
        self._buffer, self._at = buffer, at + 3 + length
        return protocol, buffer[at + 3:at + 3 + length]


def _raise_rejected(result: str | Rejected) -> str:
    if isinstance(result, Rejected):
        raise result
    return result


class VtyClient:
    """osmo-hlr's VTY over telnet: the prompt is learned on connect ("OsmoHLR> "), `enable` gives "OsmoHLR# "; each
    command's output runs until that prompt, and a line starting with "% " is the VTY refusing it. Telnet option
    negotiation (IAC …) is ignored: the VTY works without answers."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: socket.socket | None = None
        self._prompt = b""

    def command(self, line: str) -> str:
        reused = self._sock is not None
        try:
            return self._run(line)
        except (OSError, EOFError) as error:
            self.close()
            if not reused or isinstance(error, TimeoutError):
                raise Unavailable(f"osmo-hlr VTY {self.host}:{self.port}: {_describe(error)}") from None
        try:
            return self._run(line)
        except (OSError, EOFError) as error:
            self.close()
            raise Unavailable(f"osmo-hlr VTY {self.host}:{self.port}: {_describe(error)}") from None

    def close(self) -> None:
        if self._sock:
            self._sock.close()
            self._sock = None

    def _run(self, line: str) -> str:
        sock = self._connection()
        sock.sendall(line.encode() + b"\n")
        output = self._until_prompt(sock).decode(errors="replace")
        lines = output.replace("\r", "").split("\n")[1:]  # the first line is the command, echoed
        for text in lines:
            if text.startswith("% "):
                raise Rejected(text[2:].strip())
        return "\n".join(lines).strip()

    def _connection(self) -> socket.socket:
        if self._sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self._sock = sock
            banner = self._until(sock, lambda data: data.endswith(b"> ") or data.endswith(b"# "))
            prompt = banner.rsplit(b"\n", 1)[-1]
            if prompt.endswith(b"> "):
                sock.sendall(b"enable\n")
                self._prompt = prompt[:-2] + b"# "
                self._until_prompt(sock)
            else:
                self._prompt = prompt
        return self._sock

    def _until_prompt(self, sock: socket.socket) -> bytes:
        return self._until(sock, lambda data: data.endswith(b"\n" + self._prompt))

    @staticmethod
    def _until(sock: socket.socket, done: Callable[[bytes], bool]) -> bytes:
        data = b""
        while not done(data):
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            data = _TELNET_COMMAND.sub(b"", data + chunk)
        return data


_TELNET_COMMAND = re.compile(rb"\xff[\xfb-\xfe].|\xff[\xf0-\xfa]", re.DOTALL)


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer in time"
    return str(error) or type(error).__name__
