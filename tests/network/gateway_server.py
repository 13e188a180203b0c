"""A reference provisioning gateway: a real HTTP server on 127.0.0.1 (a thread) speaking the protocol simkeep's
Gateway adapter sends (README.md, "The provisioning gateway protocol"). It verifies every request's signature as a
gateway must (core.signing over "<t>.<METHOD>.<target>.<body>") and keeps its subscribers in memory.

Tests (and the drift benchmark) use it as an operator's network: `subscribers` is what the network holds and may
be read or changed by hand; `fail_next` answers the next requests with an error; `hold` keeps requests waiting
(unanswered) until `release`, to make a client time out without sleeping.

    with GatewayServer(secret) as gateway:
        url = gateway.url          # http://127.0.0.1:<port>/prov/v1
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from simkeep.core import signing
from simkeep.network.adapters.gateway import (
    REQUEST_ID_HEADER,
    SIGNATURE_HEADER,
    UNKNOWN_SUBSCRIBER,
    signed_message,
)

BASE_PATH = "/prov/v1"
MODES = ("none", "cs", "ps", "cs+ps")
IMSI = re.compile(r"[0-9]{6,15}")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@dataclass(frozen=True)
class Seen:
    """One request the gateway received (whatever it answered)."""

    method: str
    path: str
    request_id: str | None
    status: int


class GatewayServer:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.subscribers: dict[str, dict[str, str]] = {}
        self.seen: list[Seen] = []
        self._failures: list[tuple[int, str]] = []
        self._released = threading.Event()
        self._released.set()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="gateway-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{BASE_PATH}"

    def __enter__(self) -> GatewayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def fail_next(self, status: int, code: str, times: int = 1) -> None:
        """Answer the next `times` requests (after their signature is checked) with `status` and error `code`."""
        with self._lock:
            self._failures.extend([(status, code)] * times)

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Requests arriving inside the block wait, unanswered, until it ends."""
        self._released.clear()
        try:
            yield
        finally:
            self.release()

    def release(self) -> None:
        self._released.set()

    # -- the protocol -------------------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers, body: bytes) -> tuple[int, dict | None]:
        try:
            signing.verify(self.secret, signed_message(method, target, body), headers.get(SIGNATURE_HEADER),
                           int(time.time()))
        except signing.BadSignature as exc:
            return 401, _error("signature_invalid", str(exc))
        self._released.wait(timeout=30)
        with self._lock:
            if self._failures:
                status, code = self._failures.pop(0)
                return status, _error(code, "failing on purpose (GatewayServer.fail_next)")
        prefix = f"{BASE_PATH}/subscribers/"
        if not target.startswith(prefix) or method not in ("GET", "PUT", "DELETE"):
            return 404, _error("not_found", f"no such resource: {method} {target}")
        imsi = target[len(prefix):]
        if not IMSI.fullmatch(imsi):
            return 400, _error("invalid_imsi", "the IMSI is 6 to 15 digits")
        unknown = 404, _error(UNKNOWN_SUBSCRIBER, "no such subscriber")
        with self._lock:
            if method == "GET":
                held = self.subscribers.get(imsi)
                return (200, dict(held)) if held else unknown
            if method == "DELETE":
                return (204, None) if self.subscribers.pop(imsi, None) else unknown
            return self._put(imsi, body)

    def _put(self, imsi: str, body: bytes) -> tuple[int, dict | None]:
        try:
            data = json.loads(body)
            state = {"imsi": data["imsi"], "msisdn": data["msisdn"], "mode": data["mode"]}
        except (ValueError, KeyError, TypeError):
            return 400, _error("invalid_json", "the body is not a subscriber object")
        if state["imsi"] != imsi:
            return 422, _error("imsi_mismatch", "the body's IMSI is not the one in the path")
        if state["mode"] not in MODES:
            return 422, _error("invalid_mode", f"mode must be one of {', '.join(MODES)}")
        if not isinstance(state["msisdn"], str) or not E164.fullmatch(state["msisdn"]):
            return 422, _error("invalid_msisdn", "msisdn must be an E.164 number (+ and digits)")
        created = imsi not in self.subscribers
        self.subscribers[imsi] = state
        return (201 if created else 200), state


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that gave up (timed out) before its answer is expected here, not a failure to print."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _handler_for(gateway: GatewayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a client's pool expects
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait for a delayed ACK

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload = gateway.handle(self.command, self.path, self.headers, body)
            with gateway._lock:
                gateway.seen.append(Seen(self.command, self.path, self.headers.get(REQUEST_ID_HEADER), status))
            content = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_PUT = do_DELETE = do_POST = _serve

        def log_message(self, format: str, *args) -> None:  # quiet: pytest shows failures, not access logs
            pass

    return Handler


def main() -> None:
    """`python -m tests.network.gateway_server SUBSCRIBERS.jsonl`: serve in a process of its own (the benchmark's
    network, on another core than the client), holding the subscribers of the file (one JSON object a line), signed
    under $GATEWAY_SECRET. Prints its URL once listening; stops on SIGTERM or SIGINT."""
    import os
    import signal

    with GatewayServer(os.environ["GATEWAY_SECRET"]) as gateway:
        with open(sys.argv[1], encoding="utf-8") as file:
            for row in map(json.loads, file):
                gateway.subscribers[row["imsi"]] = row
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        print(gateway.url, flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
