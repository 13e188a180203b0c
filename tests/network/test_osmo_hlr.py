"""The osmo-hlr adapter against Debian's osmo-hlr (tests/network/hlr.py), and its CTRL framing against a tiny fake
server for what a real HLR rarely does on cue (a TRAP, a PING, a reply in pieces, silence)."""

from __future__ import annotations

import itertools
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from simkeep.network.adapters import Held, Rejected, Unavailable, open_provisioner
from simkeep.network.adapters.osmo_hlr import OsmoHlr
from simkeep.network.models import ABSENT, CS, CS_PS, MODES, NONE, PS
from tests.network.hlr import Change, OsmoHlrPeer, Subscriber

_imsis = itertools.count(1)


def new_imsi() -> str:
    """An IMSI no other test in the session uses (MCC-MNC 001-01, the test network; 9 after it for this module).
    Each test deletes what it created: the HLR is shared by the session."""
    return f"001019{next(_imsis):09d}"


@pytest.fixture
def hlr(osmo_hlr: OsmoHlrPeer) -> Iterator[OsmoHlr]:
    adapter = OsmoHlr.from_url(osmo_hlr.url)
    try:
        yield adapter
    finally:
        adapter.close()


class Writes:
    """The SETs and VTY commands an adapter sends (its GETs are reads)."""

    def __init__(self, adapter: OsmoHlr) -> None:
        self.sent: list[str] = []
        ctrl_set, vty_command = adapter.ctrl.set, adapter.vty.command if adapter.vty else None

        def recording_set(variable: str, value: str) -> str:
            self.sent.append(f"SET {variable} {value}")
            return ctrl_set(variable, value)

        def recording_command(line: str) -> str:
            self.sent.append(line)
            assert vty_command is not None
            return vty_command(line)

        adapter.ctrl.set = recording_set  # type: ignore[method-assign]
        if adapter.vty:
            adapter.vty.command = recording_command  # type: ignore[method-assign]


def test_creates_a_subscriber_with_its_number_and_access(hlr: OsmoHlr, osmo_hlr: OsmoHlrPeer) -> None:
    imsi = new_imsi()
    writes = Writes(hlr)

    hlr.apply(Held(imsi, "+33612340001", CS_PS))

    assert osmo_hlr.subscriber(imsi) == Subscriber(imsi, "33612340001", cs=True, ps=True)
    assert hlr.read(imsi) == Held(imsi, "+33612340001", CS_PS)
    assert writes.sent == [f"SET subscriber.create {imsi}", f"SET subscriber.by-imsi-{imsi}.msisdn 33612340001"]
    osmo_hlr.delete(imsi)


@pytest.mark.parametrize(("mode", "cs", "ps"), [(NONE, False, False), (CS, True, False), (PS, False, True),
                                                (CS_PS, True, True)])
def test_each_access_mode_sets_both_flags(hlr: OsmoHlr, osmo_hlr: OsmoHlrPeer, mode: str, cs: bool,
                                          ps: bool) -> None:
    imsi = new_imsi()
    hlr.apply(Held(imsi, "+33612340002", CS_PS if mode != CS_PS else NONE))  # starting from another mode

    hlr.apply(Held(imsi, "+33612340002", mode))

    assert osmo_hlr.subscriber(imsi) == Subscriber(imsi, "33612340002", cs=cs, ps=ps)
    assert hlr.read(imsi) == Held(imsi, "+33612340002", mode)
    osmo_hlr.delete(imsi)


def test_modes_go_through_the_vty_and_over_ctrl_without_one(osmo_hlr: OsmoHlrPeer) -> None:
    imsi = new_imsi()
    with_vty, ctrl_only = OsmoHlr.from_url(osmo_hlr.url), OsmoHlr.from_url(osmo_hlr.url.split("?")[0])
    try:
        vty_writes, ctrl_writes = Writes(with_vty), Writes(ctrl_only)
        with_vty.apply(Held(imsi, None, CS))
        ctrl_only.apply(Held(imsi, None, PS))
        assert osmo_hlr.subscriber(imsi) == Subscriber(imsi, None, cs=False, ps=True)
        ctrl_only.apply(Held(imsi, None, ABSENT))
        assert osmo_hlr.subscriber(imsi) is None
    finally:
        with_vty.close()
        ctrl_only.close()
    assert vty_writes.sent == [f"SET subscriber.create {imsi}",
                               f"subscriber imsi {imsi} update network-access-mode cs"]
    assert ctrl_writes.sent == [f"SET subscriber.by-imsi-{imsi}.cs-enabled 0",
                                f"SET subscriber.by-imsi-{imsi}.ps-enabled 1", f"SET subscriber.delete {imsi}"]


def test_absent_deletes_the_subscriber_and_frees_its_number(hlr: OsmoHlr, osmo_hlr: OsmoHlrPeer) -> None:
    imsi, next_holder = new_imsi(), new_imsi()
    hlr.apply(Held(imsi, "+33612340003", CS))
    writes = Writes(hlr)

    hlr.apply(Held(imsi, None, ABSENT))

    assert writes.sent == [f"subscriber imsi {imsi} update network-access-mode none",  # tells the serving network
                           f"SET subscriber.delete {imsi}"]

    assert osmo_hlr.subscriber(imsi) is None
    assert hlr.read(imsi) == Held(imsi, None, ABSENT)
    hlr.apply(Held(next_holder, "+33612340003", CS_PS))  # the number is free for another SIM
    assert osmo_hlr.subscriber(next_holder) == Subscriber(next_holder, "33612340003", cs=True, ps=True)
    osmo_hlr.delete(next_holder)


def test_a_number_is_changed_and_cleared(hlr: OsmoHlr, osmo_hlr: OsmoHlrPeer) -> None:
    imsi = new_imsi()
    hlr.apply(Held(imsi, "+33612340004", CS_PS))

    hlr.apply(Held(imsi, "+33612340005", CS_PS))
    assert osmo_hlr.subscriber(imsi) == Subscriber(imsi, "33612340005", cs=True, ps=True)

    hlr.apply(Held(imsi, None, NONE))
    assert osmo_hlr.subscriber(imsi) == Subscriber(imsi, None, cs=False, ps=False)
    osmo_hlr.delete(imsi)


@pytest.mark.parametrize("mode", MODES)
def test_applying_the_same_state_twice_writes_nothing(hlr: OsmoHlr, osmo_hlr: OsmoHlrPeer, mode: str) -> None:
    imsi = new_imsi()
    held = Held(imsi, None if mode == ABSENT else "+33612340006", mode)
    hlr.apply(held)
    before = osmo_hlr.subscriber(imsi)
    writes = Writes(hlr)

    hlr.apply(held)

    assert osmo_hlr.subscriber(imsi) == before
    assert writes.sent == []
    if before:
        osmo_hlr.delete(imsi)


def test_the_hlrs_history_shows_each_change_once_in_order(hlr: OsmoHlr, osmo_hlr: OsmoHlrPeer) -> None:
    """A line's walk (bound, grace, suspended, renewed, taken back), each command sent twice: the HLR changed once
    per command (the VTY writes a mode as its cs flag, then its ps flag; a subscriber with access is barred before
    it is deleted)."""
    imsi = new_imsi()
    for held in (Held(imsi, "+33612340014", CS_PS), Held(imsi, "+33612340014", CS), Held(imsi, "+33612340014", NONE),
                 Held(imsi, "+33612340014", CS_PS), Held(imsi, None, ABSENT)):
        hlr.apply(held)
        hlr.apply(held)

    assert osmo_hlr.history(imsi) == [
        Change("created", None, cs=True, ps=True), Change("updated", "33612340014", cs=True, ps=True),
        Change("updated", "33612340014", cs=True, ps=False),
        Change("updated", "33612340014", cs=False, ps=False),
        Change("updated", "33612340014", cs=True, ps=False), Change("updated", "33612340014", cs=True, ps=True),
        Change("updated", "33612340014", cs=False, ps=True), Change("updated", "33612340014", cs=False, ps=False),
        Change("deleted")]
    assert [change.mode for change in osmo_hlr.history(imsi)] == [CS_PS, CS_PS, CS, NONE, CS, CS_PS, PS, NONE, ABSENT]


@pytest.mark.parametrize(("imsi", "msisdn", "reason"), [
    ("00101", None, "not an IMSI"), ("0010100000000001", None, "not an IMSI"), ("00101 0000", None, "not an IMSI"),
    ("001010000000001", "+33 6", "not an MSISDN"), ("001010000000001", "33612340016", "not an MSISDN"),
    ("001010000000001", "+3361234\nSET 1 x y", "not an MSISDN")])
def test_what_is_not_digits_never_reaches_the_hlr(hlr: OsmoHlr, imsi: str, msisdn: str | None, reason: str) -> None:
    writes = Writes(hlr)
    with pytest.raises(Rejected, match=f"^{reason}"):
        hlr.apply(Held(imsi, msisdn, CS_PS))
    assert writes.sent == []


def test_a_number_another_sim_holds_is_rejected_naming_it(hlr: OsmoHlr, osmo_hlr: OsmoHlrPeer) -> None:
    holder, other = new_imsi(), new_imsi()
    hlr.apply(Held(holder, "+33612340008", CS_PS))

    with pytest.raises(Rejected, match=rf"^Update MSISDN failed: the number is held by IMSI {holder[:5]}\*{{8}}"
                                       rf"{holder[-2:]}$"):
        hlr.apply(Held(other, "+33612340008", CS_PS))

    assert osmo_hlr.subscriber(holder) == Subscriber(holder, "33612340008", cs=True, ps=True)
    assert osmo_hlr.subscriber(other) == Subscriber(other, None, cs=True, ps=True)
    osmo_hlr.delete(holder)
    osmo_hlr.delete(other)


def test_read_many_reads_each_imsi(hlr: OsmoHlr, osmo_hlr: OsmoHlrPeer) -> None:
    on, barred, unknown = new_imsi(), new_imsi(), new_imsi()
    hlr.apply(Held(on, "+33612340009", CS_PS))
    hlr.apply(Held(barred, "+33612340010", NONE))

    assert hlr.read_many([on, barred, unknown]) == {
        on: Held(on, "+33612340009", CS_PS), barred: Held(barred, "+33612340010", NONE),
        unknown: Held(unknown, None, ABSENT)}
    osmo_hlr.delete(on)
    osmo_hlr.delete(barred)


def test_read_many_pipelines_more_reads_than_one_window(hlr: OsmoHlr, osmo_hlr: OsmoHlrPeer) -> None:
    imsis = [new_imsi() for _ in range(2 * hlr.ctrl.WINDOW + 50)]
    for n, imsi in enumerate(imsis[::2]):
        osmo_hlr.create(imsi, f"+3361300{n:04d}")

    held = hlr.read_many(imsis)

    assert list(held) == imsis
    assert [h.msisdn for h in held.values()] == [
        f"+3361300{n // 2:04d}" if n % 2 == 0 else None for n in range(len(imsis))]
    assert [h.mode for h in held.values()] == [CS_PS if n % 2 == 0 else ABSENT for n in range(len(imsis))]
    for imsi in imsis[::2]:
        osmo_hlr.delete(imsi)


def test_subscribers_seeded_into_the_stopped_hlr_are_read_back(hlr: OsmoHlr, osmo_hlr: OsmoHlrPeer) -> None:
    """The benchmark's shortcut for 100,000 subscribers writes the HLR's own table: the HLR serves them as its own."""
    on, barred, data_only = new_imsi(), new_imsi(), new_imsi()
    osmo_hlr.stop()
    try:
        osmo_hlr.seed([Subscriber(on, "33612340017", cs=True, ps=True), Subscriber(barred, None, cs=False, ps=False),
                       Subscriber(data_only, "33612340018", cs=False, ps=True)])
    finally:
        osmo_hlr.start()

    assert hlr.read_many([on, barred, data_only]) == {
        on: Held(on, "+33612340017", CS_PS), barred: Held(barred, None, NONE),
        data_only: Held(data_only, "+33612340018", PS)}
    for imsi in (on, barred, data_only):
        osmo_hlr.delete(imsi)


def test_a_stopped_hlr_is_unavailable_and_the_same_adapter_works_once_it_is_back(
        hlr: OsmoHlr, osmo_hlr: OsmoHlrPeer) -> None:
    imsi = new_imsi()
    hlr.apply(Held(imsi, "+33612340011", CS_PS))  # both connections open, kept
    osmo_hlr.stop()
    try:
        with pytest.raises(Unavailable, match=rf"^osmo-hlr CTRL {osmo_hlr.address}:4259: "):
            hlr.apply(Held(imsi, "+33612340011", NONE))
        with pytest.raises(Unavailable):
            hlr.read(imsi)
    finally:
        osmo_hlr.start()

    hlr.apply(Held(imsi, "+33612340011", NONE))

    assert osmo_hlr.subscriber(imsi) == Subscriber(imsi, "33612340011", cs=False, ps=False)
    osmo_hlr.delete(imsi)


def test_a_restart_between_two_commands_is_not_an_error(hlr: OsmoHlr, osmo_hlr: OsmoHlrPeer) -> None:
    """The kept connections broke with the restart: the adapter reconnects once instead of failing the command."""
    imsi = new_imsi()
    hlr.apply(Held(imsi, "+33612340012", CS_PS))
    osmo_hlr.stop()
    osmo_hlr.start()
    assert osmo_hlr.subscriber(imsi) == Subscriber(imsi, "33612340012", cs=True, ps=True)  # same database

    hlr.apply(Held(imsi, "+33612340012", CS))

    assert osmo_hlr.subscriber(imsi) == Subscriber(imsi, "33612340012", cs=True, ps=False)
    osmo_hlr.delete(imsi)


def test_a_paused_hlr_times_out_and_the_resend_applies_the_command_once(osmo_hlr: OsmoHlrPeer) -> None:
    """A frozen HLR (SIGSTOP): the adapter gives up after its timeout (Unavailable: the worker will resend). What it
    had sent is the read that starts every apply, so once the HLR goes on nothing has changed; the resend applies the
    command, once."""
    imsi = new_imsi()
    adapter = OsmoHlr.from_url(osmo_hlr.url + "&timeout=0.3")
    try:
        adapter.apply(Held(imsi, "+33612340015", CS_PS))
        before = osmo_hlr.history(imsi)
        osmo_hlr.pause()
        try:
            with pytest.raises(Unavailable, match="no answer in time"):
                adapter.apply(Held(imsi, "+33612340015", NONE))
        finally:
            osmo_hlr.resume()
        assert osmo_hlr.subscriber(imsi) == Subscriber(imsi, "33612340015", cs=True, ps=True)

        adapter.apply(Held(imsi, "+33612340015", NONE))

        assert osmo_hlr.history(imsi) == [*before, Change("updated", "33612340015", cs=False, ps=True),
                                          Change("updated", "33612340015", cs=False, ps=False)]
    finally:
        adapter.close()
    osmo_hlr.delete(imsi)


def test_the_url_names_the_ports_and_the_timeout() -> None:
    adapter = open_provisioner("osmo-hlr://127.0.0.5:4259?vty=4258&timeout=2.5",
                               settings=None)  # type: ignore[arg-type]
    assert isinstance(adapter, OsmoHlr)
    assert (adapter.ctrl.host, adapter.ctrl.port, adapter.ctrl.timeout) == ("127.0.0.5", 4259, 2.5)
    assert adapter.vty is not None and (adapter.vty.port, adapter.vty.timeout) == (4258, 2.5)
    assert OsmoHlr.from_url("osmo-hlr://127.0.0.5:4259").vty is None
    with pytest.raises(ValueError, match="osmo-hlr://HOST:CTRL_PORT"):
        OsmoHlr.from_url("osmo-hlr://127.0.0.5")


# The CTRL framing, against a fake server that answers one GET its own way.

def frame(protocol: int, payload: bytes) -> bytes:
    return struct.pack(">HB", len(payload), protocol) + payload


class FakeCtrl:
    """Accepts one connection, reads one request and plays `answer(request_id)` back; records what it reads."""

    def __init__(self, answer) -> None:  # type: ignore[no-untyped-def]
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.answer, self.received = answer, b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.server.accept()
        with connection:
            length = struct.unpack(">H", connection.recv(2))[0]
            request = connection.recv(length + 1)[2:].decode()  # protocol byte, extension byte
            for chunk in self.answer(request.split(" ")[1]):
                connection.sendall(chunk)
            connection.settimeout(5)
            try:
                while data := connection.recv(1024):
                    self.received += data
            except OSError:
                pass

    def close(self) -> None:
        self.server.close()
        self.thread.join(timeout=10)


def test_traps_pings_stale_replies_and_partial_frames_are_read_through() -> None:
    info = b"\nid\t7\nimsi\t001010000000099\nmsisdn\t33612340013\nnam_cs\t1\nnam_ps\t0"

    def answer(request_id: str) -> list[bytes]:
        reply = frame(0xEE, b"\x00GET_REPLY " + request_id.encode()
                      + b" subscriber.by-imsi-001010000000099.info " + info)
        return [frame(0xEE, b"\x00TRAP 0 subscriber.by-imsi-001010000000001.cs-enabled 0"),
                frame(0xFE, b"\x00"),  # IPA PING
                frame(0xEE, b"\x00GET_REPLY 999 subscriber.by-imsi-001010000000099.info stale"),
                reply[:2], reply[2:20], reply[20:]]

    fake = FakeCtrl(answer)
    adapter = OsmoHlr.from_url(f"osmo-hlr://127.0.0.1:{fake.port}")
    try:
        assert adapter.read("001010000000099") == Held("001010000000099", "+33612340013", CS)
    finally:
        adapter.close()
        fake.close()
    assert fake.received == frame(0xFE, b"\x01")  # the PONG


def test_an_error_reply_is_rejected_with_the_hlrs_reason() -> None:
    fake = FakeCtrl(lambda request_id: [frame(0xEE, b"\x00ERROR " + request_id.encode() + b" Command not found")])
    adapter = OsmoHlr.from_url(f"osmo-hlr://127.0.0.1:{fake.port}")
    try:
        with pytest.raises(Rejected, match=r"^Command not found$"):
            adapter.read("001010000000099")
    finally:
        adapter.close()
        fake.close()


def test_an_hlr_that_does_not_answer_is_unavailable() -> None:
    fake = FakeCtrl(lambda request_id: [])
    adapter = OsmoHlr.from_url(f"osmo-hlr://127.0.0.1:{fake.port}?timeout=0.2")
    try:
        with pytest.raises(Unavailable, match=r"^osmo-hlr CTRL 127\.0\.0\.1:\d+: no answer in time$"):
            adapter.read("001010000000099")
    finally:
        adapter.close()
        fake.close()
