"""A provisioning gateway over signed HTTP/JSON, for operators whose network has one in front of its HLR/HSS.

Each request says the whole state of one subscriber, so sending it again is harmless:

    PUT    {base}/subscribers/{imsi}   {"imsi": "208150000000001", "msisdn": "+33612345678", "mode": "cs"}
    DELETE {base}/subscribers/{imsi}   (ABSENT: the subscriber and its number are removed)
    GET    {base}/subscribers/{imsi}   → 200 {"imsi", "msisdn", "mode"}

A subscriber the network does not know is a 404 with error code `unknown_subscriber` (a DELETE of one is done).

Every request is signed under SIMKEEP_NETWORK_GATEWAY_SECRET with `Simkeep-Signature: t=<unix>,v1=<hex HMAC-SHA256
of "<t>.<METHOD>.<path>.<body>">` (core.signing over the method and path as well as the body: a signed DELETE of one
IMSI cannot be replayed against another) and carries a fresh `Request-Id` for the gateway's logs. The URL is the
base, with an optional `?timeout=<seconds>` (default 5). README.md, "The provisioning gateway protocol", is the
reference for gateway implementers.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

from simkeep.core.ids import new_id
from simkeep.core.signing import sign
from simkeep.network.adapters import Held, Rejected, Unavailable
from simkeep.network.models import ABSENT, MODES

if TYPE_CHECKING:
    from simkeep.config import Settings

SIGNATURE_HEADER = "Simkeep-Signature"
REQUEST_ID_HEADER = "Request-Id"
UNKNOWN_SUBSCRIBER = "unknown_subscriber"  # the 404 error code that means "not in the network"
DEFAULT_TIMEOUT = 5.0  # a gateway answers one subscriber in milliseconds; a slow one is retried later
CONNECT_TIMEOUT = 3.0  # an unreachable gateway is known quickly; a slow one gets the whole timeout
PRESENT_MODES = tuple(mode for mode in MODES if mode != ABSENT)
_LONG_NUMBER = re.compile(r"\d{6,}")
IMSI = re.compile(r"[0-9]{6,15}")


def signed_message(method: str, target: str, body: bytes) -> bytes:
    """What the signature covers after "<t>.": the method, the request target as sent (path and query) and the body.
    The gateway rebuilds the same bytes to verify (core.signing.verify)."""
    return f"{method}.{target}.".encode() + body


def scrubbed(text: str) -> str:
    """`text` with long digit runs (IMSIs, numbers) cut to their ends: gateway messages end up in logs."""
    return _LONG_NUMBER.sub(lambda m: f"{m[0][:3]}…{m[0][-2:]}", text)


class Gateway:
    def __init__(self, base: str, secret: str, *, timeout: float = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base = base.rstrip("/")
        self.secret = secret
        self.client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)),
                                   transport=transport, follow_redirects=False)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> Gateway:
        if not settings.network_gateway_secret:
            raise ValueError("SIMKEEP_NETWORK_GATEWAY_SECRET is not set (a provisioning gateway URL is configured)")
        parts = urlsplit(url)
        options = dict(parse_qsl(parts.query))
        unknown = set(options) - {"timeout"}
        if unknown:
            raise ValueError(f"unknown provisioning gateway URL option(s): {', '.join(sorted(unknown))} (timeout)")
        timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
        longest = min(CONNECT_TIMEOUT, timeout) + timeout  # connecting, then waiting for the answer
        if timeout <= 0 or longest > settings.network_lease_seconds / 2:
            # a worker sends only while half its lease is left: a longer wait could outlive the lease (sent twice)
            raise ValueError(f"the gateway timeout ({timeout:g} s, {longest:g} s with connecting) must be positive and "
                             f"fit in half of SIMKEEP_NETWORK_LEASE_SECONDS ({settings.network_lease_seconds:g} s)")
        base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        return cls(base, settings.network_gateway_secret, timeout=timeout)

    def apply(self, held: Held) -> None:
        if held.mode == ABSENT:
            response = self._send("DELETE", held.imsi)
            if not _unknown(response):  # already absent is what was asked
                self._expect_success(response)
            return
        if held.mode not in PRESENT_MODES or not held.msisdn:
            raise Rejected(f"not a state a gateway can hold: mode {held.mode!r}, number {'set' if held.msisdn else 'none'}")
        body = {"imsi": held.imsi, "msisdn": held.msisdn, "mode": held.mode}
        self._expect_success(self._send("PUT", held.imsi, body))

    def read(self, imsi: str) -> Held:
        response = self._send("GET", imsi)
        if _unknown(response):
            return Held(imsi, None, ABSENT)
        self._expect_success(response)
        return _held_from(response, imsi)

    def close(self) -> None:
        self.client.close()

    def _send(self, method: str, imsi: str, body: dict | None = None) -> httpx.Response:
        if not IMSI.fullmatch(imsi):  # it names the resource: nothing else may reach the path
            raise Rejected("not an IMSI (6 to 15 digits)")
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        request = self.client.build_request(method, f"{self.base}/subscribers/{imsi}", content=content)
        target = request.url.raw_path.decode("ascii")
        request.headers[SIGNATURE_HEADER] = sign(self.secret, signed_message(method, target, content), int(time.time()))
        request.headers[REQUEST_ID_HEADER] = str(new_id())
        if body is not None:
            request.headers["Content-Type"] = "application/json"
        try:
            return self.client.send(request)
        except httpx.TimeoutException as exc:
            raise Unavailable(f"gateway timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise Unavailable(f"gateway unreachable ({type(exc).__name__}: {scrubbed(str(exc))[:120]})") from exc

    @staticmethod
    def _expect_success(response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in (408, 429) or status >= 500:
            raise Unavailable(_reason(response))
        if 300 <= status < 400:
            raise Rejected(f"gateway answered HTTP {status}, a redirect (not followed: check the gateway URL)")
        raise Rejected(_reason(response))


def _unknown(response: httpx.Response) -> bool:
    """The gateway does not know the subscriber: 404 with its error code, not any 404 (a wrong base URL answers 404
    too, and must not read as every subscriber gone)."""
    return response.status_code == 404 and _error(response).get("code") == UNKNOWN_SUBSCRIBER


def _error(response: httpx.Response) -> dict:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return {}
    return error if isinstance(error, dict) else {}


def _reason(response: httpx.Response) -> str:
    """"gateway answered HTTP <status> <code>: <message>" from its `{"error": {"code", "message"}}`, or with the start
    of whatever else it sent."""
    error = _error(response)
    text = f"{error.get('code')}: {error.get('message') or ''}".rstrip(": ") if error else response.text.strip()
    return f"gateway answered HTTP {response.status_code} {scrubbed(text)[:200]}".rstrip()


def _held_from(response: httpx.Response, imsi: str) -> Held:
    """A GET's answer, checked: a gateway (or a proxy before it) that answers something else is not believed."""
    try:
        data = response.json()
        held = Held(str(data["imsi"]), data["msisdn"], str(data["mode"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise Unavailable(f"gateway answered 200 without a subscriber ({type(exc).__name__})") from exc
    if held.imsi != imsi or held.mode not in PRESENT_MODES or not isinstance(held.msisdn, str) or not held.msisdn:
        raise Unavailable("gateway answered 200 with a subscriber that is not the one asked for, or malformed")
    return held
