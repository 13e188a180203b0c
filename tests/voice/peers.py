"""The real telephony peers of the voice tests and the benchmark, on 127.0.0.1 and free ports: Kamailio (Debian's
`kamailio`) as the operator's registrar and proxy, and SIPp (Debian's `sip-tester`) as callers.

    with Kamailio(workdir) as proxy:
        register(proxy, "hotline", "127.0.0.1:5099", workdir)
        result = place_call(proxy, workdir, hotline="hotline", caller="+33612345678",
                            steps=[Keys("3"), Pause(1), Keys("1"), AwaitBye()])

A call is one SIPp run of tests/voice/scenarios/caller.xml with the identity headers and the steps filled in:
keys pressed as RFC 2833 events (the recordings SIPp ships, renumbered per press: a phone pressing # twice sends two
events with two timestamps, where replaying the same recording twice would send one event twice) or as SIP INFO
(application/dtmf-relay), pauses, hanging up, or waiting for the menu's BYE (or REFER, for a transfer).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.processes import wait_until

HERE = Path(__file__).parent
SCENARIOS = HERE / "scenarios"
RECORDINGS = Path("/usr/share/sip-tester")
KEY_NAMES = {**{str(d): str(d) for d in range(10)}, "#": "pound", "*": "star"}
RFC2833, INFO = "rfc2833", "info"
KEY_GAP = 0.3  # seconds between two presses of one Keys step (a person's pace)
PRESS = 0.14  # seconds an RFC 2833 recording lasts (SIPp plays it in the background: the scenario waits it out)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Kamailio:
    """Kamailio in the foreground (-DD, logging to stderr -E, into `log`) with tests/voice/kamailio.cfg on a free
    UDP port of 127.0.0.1; ready once it answers an OPTIONS."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_udp_port()
        self.log = workdir / "kamailio.log"
        self._process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Kamailio:
        self.start()
        return self

    def __exit__(self, *_) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self._process = subprocess.Popen(
                ["kamailio", "-DD", "-E", "-f", str(HERE / "kamailio.cfg"), "-l", f"udp:{self.address}",
                 "-Y", str(self.workdir), "-w", str(self.workdir), "-P", str(self.workdir / "kamailio.pid")],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # its children die with it
        wait_until(self._answers, timeout=20, what=f"Kamailio answering on {self.address} (log: {self.log})")

    def stop(self) -> None:
        """Stop Kamailio and every process it forked (a child once outlived its main process in a CI run)."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()

    def _answers(self) -> bool:
        if self._process and self._process.poll() is not None:
            raise AssertionError(f"Kamailio exited with {self._process.returncode}: {self.log.read_text()[-2000:]}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            probe.settimeout(0.2)
            port = probe.getsockname()[1]
            probe.sendto(_options(self.address, port), ("127.0.0.1", self.port))
            try:
                return probe.recv(4096).startswith(b"SIP/2.0 ")
            except TimeoutError:
                return False


def _options(target: str, port: int) -> bytes:
    return (f"OPTIONS sip:ping@{target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-ping{port}\r\n"
            f"From: <sip:probe@127.0.0.1:{port}>;tag=probe\r\nTo: <sip:ping@{target}>\r\n"
            f"Call-ID: ping-{port}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            ).encode()


# The steps of a call, in the caller's order.

@dataclass(frozen=True)
class Keys:
    """Press these keys (0-9, *, #), KEY_GAP apart."""

    keys: str


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class HangUp:
    """Send BYE (and expect its 200)."""


@dataclass(frozen=True)
class AwaitBye:
    """Wait for the far end to hang up (answering its BYE), at most `timeout` seconds."""

    timeout: float = 30


@dataclass(frozen=True)
class AwaitRefer:
    """Wait for a REFER (a blind transfer) and do what a phone does: accept it (202), call the new party (not
    simulated), report that it answered (NOTIFY with a 200 sipfrag), then take the transferor's BYE."""

    timeout: float = 30


Step = Keys | Pause | HangUp | AwaitBye | AwaitRefer


@dataclass
class CallResult:
    returncode: int  # SIPp's: 0 when every step went as written
    messages: str  # the SIP messages sent and received (-trace_msg)
    errors: str  # what SIPp reported as unexpected

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def received(self, method: str) -> list[str]:
        """The requests (or 'SIP/2.0 <code>' responses) of this kind the caller received, as text."""
        return [message for message in _messages(self.messages, "received") if message.startswith(method)]


def _messages(trace: str, direction: str) -> Iterator[str]:
    """The messages of a -trace_msg log in one direction."""
    for block in trace.split("----------------------------------------------- ")[1:]:
        _, head, body = block.split("\n", 2)  # the time, then "UDP message received [n] bytes :" or "sent (n bytes):"
        if f" message {direction}" in head:
            yield body.strip()


def register(proxy: Kamailio, user: str, contact: str, workdir: Path, *, timeout: float = 10) -> None:
    """Bind `user` at the registrar to `contact` (host:port), as the hotline's phone system would."""
    result = run_sipp(proxy, workdir, SCENARIOS / "register.xml", {"user": user, "contact": contact},
                      timeout=timeout)
    assert result.ok, f"REGISTER failed: {result.errors}\n{result.messages}"


def place_call(proxy: Kamailio, workdir: Path, *, hotline: str, caller: str, steps: Sequence[Step],
               dtmf: str = RFC2833, asserted: str | None = None, timeout: float = 60) -> CallResult:
    """Call `hotline` through `proxy` from `caller` (the From user), or with `asserted` as P-Asserted-Identity
    (the number the operator vouches for: a phone network puts it there, From then being the caller's own text)."""
    scenario = caller_scenario(workdir, steps, dtmf=dtmf, asserted=asserted)
    return run_sipp(proxy, workdir, scenario, {"hotline": hotline, "caller": caller}, timeout=timeout,
                    extra=["-mi", "127.0.0.1", "-mp", str(free_udp_port())])


def caller_scenario(workdir: Path, steps: Sequence[Step], *, dtmf: str = RFC2833, asserted: str | None = None,
                    media_port: str = "[media_port]") -> Path:
    """tests/voice/scenarios/caller.xml with the identity, the media port (SIPp's own by default) and the steps."""
    name = f"call-{time.monotonic_ns()}"
    identity = f"P-Asserted-Identity: <sip:{asserted}@127.0.0.1>" if asserted else ""
    body = "\n".join(_step(step, dtmf, workdir / name, press, awaits=isinstance(then, AwaitBye | AwaitRefer))
                     for (press, step), then in zip(_numbered(steps), [*steps[1:], None], strict=True))
    path = workdir / f"{name}.xml"
    path.write_text(_scenario(SCENARIOS / "caller.xml", identity, media_port, body))
    return path


def answer_as_hotline(workdir: Path, *, media_port: int, info_keys: int = 0, timeout: float = 30
                      ) -> tuple[int, subprocess.Popen, Path]:
    """SIPp standing in for the hotline (to test the harness itself): answers one call on a free port with
    `media_port` as its RTP address, takes `info_keys` SIP INFO presses, then the caller's BYE. Returns its SIP port,
    process and message log."""
    port = free_udp_port()
    steps = "\n".join([_INFO_ANSWERED] * info_keys)
    path = workdir / f"hotline-{port}.xml"
    path.write_text(_scenario(SCENARIOS / "hotline.xml", "", str(media_port), steps))
    log = workdir / f"hotline-{port}.log"
    process = subprocess.Popen(
        ["sipp", "-sf", str(path), "-p", str(port), "-i", "127.0.0.1", "-mi", "127.0.0.1",
         "-mp", str(free_udp_port()), "-m", "1", "-nostdin", "-timeout", f"{timeout}s", "-timeout_error",
         "-trace_msg", "-message_file", str(log), "-trace_err", "-error_file", str(workdir / f"hotline-{port}.err")],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return port, process, log


def _numbered(steps: Sequence[Step]) -> Iterator[tuple[int, Step]]:
    """Each step with the number of key presses before it (RFC 2833 presses are renumbered from it)."""
    presses = 0
    for step in steps:
        yield presses, step
        if isinstance(step, Keys):
            presses += len(step.keys)


def _scenario(template: Path, identity: str, media_port: str, steps: str) -> str:
    lines = template.read_text().splitlines(keepends=True)
    text = "".join(line for line in lines if identity or "<!--IDENTITY-->" not in line)  # no empty header line
    return (text.replace("<!--IDENTITY-->", identity).replace("<!--MEDIA_PORT-->", media_port)
            .replace("<!--STEPS-->", steps))


def _step(step: Step, dtmf: str, pcaps: Path, press: int, *, awaits: bool) -> str:
    """The step as scenario XML. Keys pressed as RFC 2833 play in the background for PRESS seconds: the scenario
    waits them out, except before waiting for a request (a message arriving during a pause aborts the call)."""
    match step:
        case Keys(keys):
            played = dtmf == RFC2833
            gap = _pause(KEY_GAP + (PRESS if played else 0))
            presses = gap.join(_press(key, dtmf, pcaps, press + i) for i, key in enumerate(keys))
            return presses + (_pause(PRESS) if played and not awaits else "")
        case Pause(seconds):
            return _pause(seconds)
        case HangUp():
            return _HANG_UP
        case AwaitBye(timeout):
            return _AWAIT_BYE.replace("TIMEOUT", str(int(timeout * 1000)))
        case AwaitRefer(timeout):
            return _AWAIT_REFER.replace("TIMEOUT", str(int(timeout * 1000))) + _AWAIT_BYE.replace("TIMEOUT", "30000")
    raise TypeError(step)


def _press(key: str, dtmf: str, pcaps: Path, press: int) -> str:
    if dtmf == INFO:
        return _INFO.replace("SIGNAL", key)
    pcap = renumbered_recording(key, press, pcaps)
    return f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'


def _pause(seconds: float) -> str:
    return f'<pause milliseconds="{int(seconds * 1000)}"/>\n'


def renumbered_recording(key: str, press: int, directory: Path) -> Path:
    """SIPp's recording of `key` as RFC 2833 events, with the RTP sequence numbers and timestamp moved on by
    `press` (a phone's n-th key press): an RFC 4733 receiver tells two presses of one key apart by the timestamp."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"press-{press:03d}-{KEY_NAMES[key]}.pcap"
    data = bytearray((RECORDINGS / f"dtmf_2833_{KEY_NAMES[key]}.pcap").read_bytes())
    offset = 24  # pcap file header; then per packet a 16-byte header, Ethernet (14), IPv4 (20), UDP (8), RTP
    while offset < len(data):
        length = struct.unpack_from("<I", data, offset + 8)[0]
        rtp = offset + 16 + 42
        sequence, timestamp = struct.unpack_from(">HI", data, rtp + 2)
        struct.pack_into(">HI", data, rtp + 2, (sequence + 16 * press) % 65536,
                         (timestamp + 8000 * (press + 1)) % 2**32)
        struct.pack_into(">H", data, offset + 16 + 40, 0)  # UDP checksum: 0 means none (the payload changed)
        offset += 16 + length
    target.write_bytes(data)
    return target


def run_sipp(proxy: Kamailio, workdir: Path, scenario: Path, keys: dict[str, str], *, timeout: float,
             calls: int = 1, trace: bool = True, extra: Sequence[str] = ()) -> CallResult:
    """SIPp placing `calls` calls of `scenario` through `proxy` ([key] replaced by keys' values)."""
    name = f"{scenario.stem}-{time.monotonic_ns()}"
    messages, errors = workdir / f"{name}.messages", workdir / f"{name}.errors"
    command = ["sipp", proxy.address, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(free_udp_port()),
               "-m", str(calls), "-nostdin", "-timeout", f"{timeout}s", "-timeout_error", "-trace_err", "-error_file",
               str(errors), *(["-trace_msg", "-message_file", str(messages)] if trace else []), *extra]
    for key, value in keys.items():
        command += ["-key", key, value]
    process = subprocess.run(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             timeout=timeout + 10)
    return CallResult(process.returncode, _read(messages),
                      _read(errors) + process.stderr.decode(errors="replace"))


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


_INFO = """<send>
    <![CDATA[
      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [$hotline_to]
      Call-ID: [call_id]
      CSeq: [cseq] INFO
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=SIGNAL
      Duration=160
    ]]>
  </send>
  <recv response="200"/>"""

_INFO_ANSWERED = """<recv request="INFO"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>"""

_HANG_UP = """<send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [$hotline_to]
      Call-ID: [call_id]
      CSeq: [cseq] BYE
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>"""

_AWAIT_BYE = """<recv request="BYE" timeout="TIMEOUT"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>"""

_AWAIT_REFER = """<recv request="REFER" timeout="TIMEOUT"/>
  <send>
    <![CDATA[
      SIP/2.0 202 Accepted
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  <send retrans="500">
    <![CDATA[
      NOTIFY [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [$hotline_to]
      Call-ID: [call_id]
      CSeq: [cseq] NOTIFY
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Event: refer
      Subscription-State: terminated;reason=noresource
      Max-Forwards: 70
      Content-Type: message/sipfrag;version=2.0
      Content-Length: [len]

      SIP/2.0 200 OK
    ]]>
  </send>
  <recv response="200"/>
"""
