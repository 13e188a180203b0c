"""SIP messages as text on the wire (RFC 3261 §7, §20, §25): parse what arrives, build what we send.

Parsing is lenient where the grammar allows variety (folded header lines §7.3.1, compact header names §7.3.3,
several values of a list header on one line or on several §7.3.1, LF instead of CRLF) and strict where a
mistake would misroute: a message without a start line, Call-ID, CSeq or Via is refused."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

VERSION = "SIP/2.0"
MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7: a branch starting with it is unique per transaction

COMPACT = {"i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length", "c": "Content-Type",
           "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via", "r": "Refer-To", "o": "Event",
           "b": "Referred-By", "u": "Allow-Events", "x": "Session-Expires"}
# Spelled as RFC 3261 does; any other name is capitalised word by word.
CANONICAL = {name.lower(): name for name in (
    "Call-ID", "CSeq", "WWW-Authenticate", "Proxy-Authenticate", "Proxy-Authorization", "P-Asserted-Identity",
    "Record-Route", "Refer-To", "Referred-By", "Allow-Events", "Session-Expires", "MIME-Version", "Max-Forwards")}
# Headers whose value is a comma-separated list (§7.3.1): "Via: a, b" is the same as two Via lines.
LISTS = frozenset({"Via", "Route", "Record-Route", "Contact", "Allow", "Supported", "Require", "Accept",
                   "P-Asserted-Identity", "Allow-Events"})

REASONS = {100: "Trying", 180: "Ringing", 200: "OK", 202: "Accepted", 400: "Bad Request", 481:
           "Call/Transaction Does Not Exist", 486: "Busy Here", 487: "Request Terminated",
           488: "Not Acceptable Here", 489: "Bad Event", 500: "Server Internal Error", 501: "Not Implemented",
           503: "Service Unavailable"}


class ParseError(ValueError):
    """Not a SIP message we can act on."""


def header_name(name: str) -> str:
    name = name.strip()
    lower = name.lower()
    if lower in COMPACT:
        return COMPACT[lower]
    return CANONICAL.get(lower) or "-".join(part.capitalize() for part in lower.split("-"))


def split_list(value: str) -> list[str]:
    """Split a list header's value on the commas that are outside quotes and <...>."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(value):
        if char == '"' and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char == "<":
            depth += 1
        elif not quoted and char == ">":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [part for part in parts if part]


@dataclass
class Message:
    """A request (`method` and `uri` set) or a response (`status` set); headers in order, names canonical."""

    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.all(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        name = header_name(name)
        return [value for key, value in self.headers if key == name]

    def add(self, name: str, value: str) -> None:
        self.headers.append((header_name(name), value))

    @property
    def call_id(self) -> str:
        return self.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = (self.get("CSeq") or "").partition(" ")
        return int(number), method.strip().upper()

    @property
    def branch(self) -> str:
        return Via.parse(self.all("Via")[0]).params.get("branch", "")

    def to_bytes(self) -> bytes:
        start = (f"{self.method} {self.uri} {VERSION}" if self.is_request
                 else f"{VERSION} {self.status} {self.reason or REASONS.get(self.status or 0, '')}")
        lines = [start] + [f"{name}: {value}" for name, value in self.headers if name != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def parse(data: bytes) -> Message:
    """A message from one UDP datagram (RFC 3261 §7, §18.3: the body is Content-Length bytes)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("headers are not UTF-8") from exc
    lines = [line.rstrip("\r") for line in text.lstrip("\r\n").split("\n")]
    message = _start_line(lines[0])
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and message.headers:  # a folded continuation (§7.3.1)
            name, value = message.headers[-1]
            message.headers[-1] = (name, f"{value} {line.strip()}")
        elif ":" in line:
            name, _, value = line.partition(":")
            message.headers.append((header_name(name), value.strip()))
        elif line.strip():
            raise ParseError(f"not a header line: {line[:40]!r}")
    message.headers = [(name, part) for name, value in message.headers
                       for part in (split_list(value) if name in LISTS else [value])]
    length = message.get("Content-Length")
    message.body = body[:int(length)] if length and length.strip().isdigit() else body
    if not message.call_id or not message.get("CSeq") or not message.all("Via"):
        raise ParseError("Call-ID, CSeq and Via are required")
    try:
        message.cseq  # noqa: B018 - validates the number
    except ValueError as exc:
        raise ParseError("CSeq is not a number") from exc
    return message


def _start_line(line: str) -> Message:
    parts = line.split(" ", 2)
    if len(parts) == 3 and parts[0] == VERSION and parts[1].isdigit():
        return Message(status=int(parts[1]), reason=parts[2])
    if len(parts) == 3 and parts[2] == VERSION and re.fullmatch(r"[A-Za-z]+", parts[0]):
        return Message(method=parts[0].upper(), uri=parts[1])
    raise ParseError(f"not a SIP start line: {line[:60]!r}")


def _params(text: str) -> dict[str, str]:
    params = {}
    for item in text.split(";"):
        if item.strip():
            key, _, value = item.strip().partition("=")
            params[key.lower()] = value.strip('"')
    return params


@dataclass(frozen=True)
class Uri:
    """sip:user@host:port;params (RFC 3261 §19.1), or tel:number (RFC 3966) with no host."""

    scheme: str
    user: str
    host: str
    port: int | None
    params: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Uri:
        scheme, _, rest = text.strip().partition(":")
        rest, _, _headers = rest.partition("?")
        rest, _, params = rest.partition(";")
        user, at, hostport = rest.rpartition("@")
        if scheme.lower() == "tel":
            return cls("tel", hostport, "", None, _params(params))
        user = user.partition(":")[0] if at else ""  # a password in the URI is ignored
        if hostport.startswith("["):  # IPv6 reference
            host, _, port = hostport[1:].partition("]")
            port = port.lstrip(":")
        else:
            host, _, port = hostport.partition(":")
        return cls(scheme.lower(), user, host, int(port) if port.isdigit() else None, _params(params))

    def address(self, default_port: int = 5060) -> tuple[str, int]:
        """Where to send a request for this URI over UDP (maddr honoured; no DNS SRV: hosts are addresses)."""
        return self.params.get("maddr") or self.host, self.port or default_port


@dataclass(frozen=True)
class NameAddr:
    """A From, To, Contact or Route value: "Name" <uri>;params, or a bare URI whose ;params belong to the header."""

    display: str
    uri: str
    params: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        if "<" in text:
            display, _, rest = text.partition("<")
            uri, _, params = rest.partition(">")
            return cls(display.strip().strip('"'), uri.strip(), _params(params))
        uri, _, params = text.partition(";")
        return cls("", uri.strip(), _params(params))

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")


@dataclass(frozen=True)
class Via:
    """SIP/2.0/UDP host:port;branch=...;rport (RFC 3261 §20.42, RFC 3581)."""

    transport: str
    host: str
    port: int | None
    params: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Via:
        protocol, _, rest = text.strip().partition(" ")
        sent_by, _, params = rest.strip().partition(";")
        sent_by = sent_by.strip()
        if sent_by.startswith("["):  # IPv6 reference
            host, _, port = sent_by[1:].partition("]")
            port = port.lstrip(":")
        else:
            host, _, port = sent_by.partition(":")
        return cls(protocol.rpartition("/")[2].upper(), host, int(port) if port.isdigit() else None,
                   _params(params))


def mark_received(request: Message, host: str, port: int) -> None:
    """Note on the top Via where the request really came from (§18.2.1 `received`, RFC 3581 `rport`), so that
    our responses, which copy it, say where they went."""
    vias = request.all("Via")
    top = Via.parse(vias[0])
    text = vias[0]
    if "rport" in top.params:
        text = re.sub(r";rport(=[^;]*)?", f";rport={port}", text, count=1)
    if top.host != host or "rport" in top.params:
        text = re.sub(r";received=[^;]*", "", text) + f";received={host}"
    index = next(i for i, (name, _) in enumerate(request.headers) if name == "Via")
    request.headers[index] = ("Via", text)


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return MAGIC_COOKIE + secrets.token_hex(8)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(12)}@{host}"


def response(request: Message, status: int, *, to_tag: str | None = None, reason: str | None = None) -> Message:
    """A response to `request` (RFC 3261 §8.2.6.2): Via, From, Call-ID and CSeq copied; To gets our tag."""
    message = Message(status=status, reason=reason or REASONS.get(status, ""))
    for value in request.all("Via"):
        message.add("Via", value)
    if 100 < status < 300:  # responses that can establish a dialog carry its route set (§12.1.1)
        for value in request.all("Record-Route"):
            message.add("Record-Route", value)
    to = request.get("To") or ""
    if to_tag and status != 100 and NameAddr.parse(to).tag is None:
        to = f"{to};tag={to_tag}"
    message.add("From", request.get("From") or "")
    message.add("To", to)
    message.add("Call-ID", request.call_id)
    message.add("CSeq", request.get("CSeq") or "")
    return message
