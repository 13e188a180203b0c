"""A relay between simkeep's adapter and osmo-hlr that records what reaches the HLR and can hold its replies.

The worker-crash test points the adapter at the relay (CTRL and VTY each get one) so that (a) every request the HLR
received is on record in arrival order, to check that a line's states reached the network in seq order, and (b) the
HLR's replies can be held back: the request is applied, the adapter waits for its answer, and the worker killed
then dies between the send and the commit.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Tap:
    """One listening relay on 127.0.0.1 (`port`) to `upstream`; `requests` are the client's messages, decoded."""

    upstream: tuple[str, int]
    kind: str  # "ctrl" (IPA frames) or "vty" (telnet lines)
    requests: list[str] = field(default_factory=list)  # may be shared by the CTRL and VTY taps: one arrival order
    held: threading.Event = field(default_factory=threading.Event)  # a reply is being held back
    _open: threading.Event = field(default_factory=threading.Event)  # replies flow while set
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._open.set()
        self._trigger: Callable[[str], bool] | None = None
        self.caught: str | None = None  # the request whose reply is held
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def hold_after(self, trigger: Callable[[str], bool]) -> None:
        """The reply to the next request matching `trigger` waits, and every reply after it (the request itself,
        and the ones after it, still reach the HLR), until `release()`."""
        self.held.clear()
        self._trigger = trigger

    def release(self) -> None:
        self._trigger = None
        self._open.set()

    def close(self) -> None:
        self._closed = True
        self._open.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                _quietly_close(sock)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()  # the HLR is down: the adapter sees a refused/closed connection
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._requests, args=(client, server), daemon=True).start()
            threading.Thread(target=self._replies, args=(server, client), daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket) -> None:
        buffer = b""
        while chunk := _recv(client):
            buffer += chunk
            buffer, messages = self._decode(buffer)
            with self._lock:
                self.requests.extend(messages)
                trigger = self._trigger
                caught = [m for m in messages if trigger and trigger(m)]
                if caught:
                    self._trigger, self.caught = None, caught[0]
                    self._open.clear()  # before the request goes on, so its reply cannot slip through
            try:
                server.sendall(chunk)
            except OSError:
                break
        _quietly_close(server)

    def _replies(self, server: socket.socket, client: socket.socket) -> None:
        while chunk := _recv(server):
            if not self._open.is_set():
                self.held.set()
                self._open.wait()
            try:
                client.sendall(chunk)
            except OSError:
                break
        _quietly_close(client)

    def _decode(self, buffer: bytes) -> tuple[bytes, list[str]]:
        """The complete messages at the start of `buffer`, and the incomplete rest."""
        messages = []
        while True:
            if self.kind == "ctrl":
                if len(buffer) < 3:
                    return buffer, messages
                length, protocol = struct.unpack(">HB", buffer[:3])
                if len(buffer) < 3 + length:
                    return buffer, messages
                payload, buffer = buffer[3:3 + length], buffer[3 + length:]
                if protocol == 0xEE and payload[:1] == b"\x00":
                    messages.append(payload[1:].decode(errors="replace"))
            else:
                if b"\n" not in buffer:
                    return buffer, messages
                line, buffer = buffer.split(b"\n", 1)
                messages.append(line.decode(errors="replace").strip())


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _quietly_close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
