"""The call harness itself, against SIPp standing in for the hotline: calls reach a registered user through
Kamailio (Record-Route, the caller's identity), keys arrive as SIP INFO and as RFC 2833 events (each press with a
timestamp of its own), and an unregistered number is refused by the proxy."""

from __future__ import annotations

import socket
import struct
import threading

from tests.voice.peers import INFO, RFC2833, HangUp, Keys, Pause, answer_as_hotline, place_call, register

EVENTS = "0123456789*#"


class EventListener:
    """An RTP port that records the telephone-events it receives as (timestamp, key, end)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.events: list[tuple[int, str, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            if len(data) >= 16 and data[1] & 0x7F == 101:
                timestamp = struct.unpack_from(">I", data, 4)[0]
                self.events.append((timestamp, EVENTS[data[12]], bool(data[13] & 0x80)))

    def presses(self) -> list[str]:
        """One key per distinct event timestamp, in order."""
        seen: dict[int, str] = {}
        for timestamp, key, _ in self.events:
            seen.setdefault(timestamp, key)
        return list(seen.values())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_a_call_through_the_proxy_carries_info_keys_and_the_asserted_identity(kamailio, tmp_path):
    port, hotline, log = answer_as_hotline(tmp_path, media_port=9, info_keys=3)
    register(kamailio, "harness1", f"127.0.0.1:{port}", tmp_path)

    result = place_call(kamailio, tmp_path, hotline="harness1", caller="anonymous", asserted="+33612345678",
                        steps=[Pause(0.2), Keys("2#"), Keys("#"), HangUp()], dtmf=INFO)

    assert result.ok, result.errors
    assert hotline.wait(timeout=20) == 0
    received = log.read_text()
    assert f"Record-Route: <sip:{kamailio.address};lr" in received
    assert "P-Asserted-Identity: <sip:+33612345678@127.0.0.1>" in received
    assert [line for line in received.splitlines() if line.startswith("Signal=")] == [
        "Signal=2", "Signal=#", "Signal=#"]
    assert len(result.received("SIP/2.0 200")) == 5  # INVITE, three INFO, BYE


def test_rfc2833_presses_of_one_key_are_two_events(kamailio, tmp_path):
    listener = EventListener()
    try:
        port, hotline, _ = answer_as_hotline(tmp_path, media_port=listener.port)
        register(kamailio, "harness2", f"127.0.0.1:{port}", tmp_path)

        result = place_call(kamailio, tmp_path, hotline="harness2", caller="+33612345678",
                            steps=[Keys("5##"), Pause(0.3), HangUp()], dtmf=RFC2833)

        assert result.ok, result.errors
        assert hotline.wait(timeout=20) == 0
        assert listener.presses() == ["5", "#", "#"]
        assert sum(end for _, _, end in listener.events) == 9  # the end packet is sent three times per press
    finally:
        listener.close()


def test_the_proxy_refuses_a_number_nobody_registered(kamailio, tmp_path):
    result = place_call(kamailio, tmp_path, hotline="nobody", caller="+33612345678", steps=[HangUp()])

    assert not result.ok
    assert [message.splitlines()[0] for message in result.received("SIP/2.0")] == ["SIP/2.0 404 Not Found"]
