"""What the SIP transport tests drive and watch: the user agent in a thread of its own, a scripted dialogue, prompts
as recognisable tones, an RTP receiver standing in for the caller's ear, and SIPp (Debian's `sip-tester`) as the
caller, straight at the user agent (no proxy: tests/voice/peers.py adds Kamailio for the end-to-end calls).

Each prompt's audio is one byte value repeated (`TONES`), so the frames a caller receives tell which prompt played,
in which order, and where a key cut it short."""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simkeep.voice import flow
from simkeep.voice.sip.agent import Options, UserAgent
from simkeep.voice.sip.rtp import FRAME_BYTES

RECORDINGS = Path("/usr/share/sip-tester")
KEY_NAMES = {**{str(d): str(d) for d in range(10)}, "#": "pound", "*": "star"}
# prompt name -> (byte value, seconds)
TONES = {"welcome": (0x11, 0.2), "menu": (0x22, 0.6), "balance": (0x33, 0.4), "bye": (0x44, 0.2),
         "long": (0x55, 8.0), "technical_problem": (0x66, 0.2)}
CALLER = "+33612345678"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python names it from 3.12 on


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tone(prompt: flow.Prompt) -> bytes:
    value, seconds = TONES[prompt.name]
    return bytes([value]) * int(seconds * 8000)


HANGUP = flow.Hangup()


def say(*names: str, then: flow.Gather | flow.Transfer | flow.Hangup = HANGUP) -> flow.Turn:
    return flow.Turn(tuple(flow.Prompt("en", name) for name in names), then)


class Script:
    """A dialogue that answers with the turns it was given, in order, and remembers what it was told."""

    def __init__(self, *turns: flow.Turn, start_gate: threading.Event | None = None, fail: bool = False) -> None:
        self.turns = list(turns)
        self.calls: list[flow.Call] = []
        self.events: list[flow.Event] = []
        self.ended = threading.Event()
        self.start_gate = start_gate
        self.fail = fail

    def start(self, call: flow.Call) -> flow.Turn:
        self.calls.append(call)
        if self.start_gate is not None:
            self.start_gate.wait(10)
        if self.fail:
            raise RuntimeError("the database is away")
        return self.turns.pop(0)

    def handle(self, call_id: str, event: flow.Event) -> flow.Turn | None:
        self.events.append(event)
        if isinstance(event, flow.HungUp) or not self.turns:
            self.ended.set()
            return None
        return self.turns.pop(0)


@dataclass
class Observed:
    events: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def __call__(self, event: str, fields: dict[str, object]) -> None:
        self.events.append((event, fields))

    def named(self, name: str) -> list[dict[str, object]]:
        return [fields for event, fields in self.events if event == name]


class Agent:
    """The user agent on a free port of 127.0.0.1, its loop in a thread."""

    def __init__(self, dialogue: flow.Dialogue, **options: object) -> None:
        self.observed = Observed()
        self.options = Options(host="127.0.0.1", port=0, **options)  # type: ignore[arg-type]
        self.agent = UserAgent(dialogue, tone, self.options, observer=self.observed)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Agent:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.agent.start(), self.loop).result(10)
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.agent.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    @property
    def port(self) -> int:
        return self.agent.port

    def call_count(self) -> int:
        return len(self.agent.calls)


@dataclass(frozen=True)
class Packet:
    arrived: float
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool
    payload_type: int
    payload: bytes


class Ear(threading.Thread):
    """The caller's RTP port: keeps every packet that arrives."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)  # arrival times from the kernel
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.packets: list[Packet] = []
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(2048, 64)
            except TimeoutError:
                continue
            arrived = next(seconds + nanoseconds / 1e9 for level, kind, payload in ancillary
                           if kind == SO_TIMESTAMPNS for seconds, nanoseconds in [struct.unpack("qq", payload[:16])])
            _first, second, sequence, timestamp, ssrc = struct.unpack_from("!BBHII", data)
            self.packets.append(Packet(arrived, sequence, timestamp, ssrc, bool(second & 0x80), second & 0x7F,
                                       data[12:]))

    def __enter__(self) -> Ear:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.running = False
        self.join(5)
        self.sock.close()

    def heard(self) -> list[tuple[str, int]]:
        """The prompts heard, in order, with how many frames of each (silence left out)."""
        names = {value: name for name, (value, _) in TONES.items()}
        runs: list[tuple[str, int]] = []
        for packet in self.packets:
            if packet.payload[0] == 0xFF:
                continue
            name = names[packet.payload[0]]
            if runs and runs[-1][0] == name:
                runs[-1] = (name, runs[-1][1] + 1)
            else:
                runs.append((name, 1))
        return runs


def frames_of(name: str) -> int:
    _value, seconds = TONES[name]
    return -(-int(seconds * 8000) // FRAME_BYTES)


# -- SIPp ---------------------------------------------------------------------------------------------------------

INVITE = """<send retrans="500">
  <![CDATA[
    INVITE sip:[hotline]@[remote_ip]:[remote_port] SIP/2.0
    Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
    From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
    To: <sip:[hotline]@[remote_ip]:[remote_port]>
    Call-ID: [call_id]
    CSeq: 1 INVITE
    Contact: <sip:[caller]@[local_ip]:[local_port]>
    Max-Forwards: 70
    Content-Type: application/sdp
    Content-Length: [len]

    v=0
    o=caller 53655765 2353687637 IN IP4 [local_ip]
    s=-
    c=IN IP4 [media_ip]
    t=0 0
    m=audio [ear] RTP/AVP 8 0 101
    a=rtpmap:8 PCMA/8000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    a=ptime:20
  ]]>
</send>
"""
ANSWERED = """<recv response="100" optional="true"/>
<recv response="200" rtd="true" rrs="true"/>
<send>
  <![CDATA[
    ACK [next_url] SIP/2.0
    Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
    [routes]
    From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
    [last_To:]
    Call-ID: [call_id]
    CSeq: 1 ACK
    Contact: <sip:[caller]@[local_ip]:[local_port]>
    Max-Forwards: 70
    Content-Length: 0
  ]]>
</send>
"""


def in_dialog(method: str, cseq: int, body: str = "", content_type: str = "") -> str:
    kind = f"Content-Type: {content_type}\n    " if content_type else ""
    return f"""<send retrans="500">
  <![CDATA[
    {method} [next_url] SIP/2.0
    Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
    [routes]
    From: "Caller" <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
    [last_To:]
    Call-ID: [call_id]
    CSeq: {cseq} {method}
    Contact: <sip:[caller]@[local_ip]:[local_port]>
    Max-Forwards: 70
    {kind}Content-Length: [len]

    {body}
  ]]>
</send>
<recv response="200"/>
"""


def answer_request(method: str, status: str = "200 OK") -> str:
    return f"""<recv request="{method}" timeout="20000"/>
<send>
  <![CDATA[
    SIP/2.0 {status}
    [last_Via:]
    [last_From:]
    [last_To:]
    [last_Call-ID:]
    [last_CSeq:]
    Content-Length: 0
  ]]>
</send>
"""


def pause(seconds: float) -> str:
    return f'<pause milliseconds="{int(seconds * 1000)}"/>\n'


def rfc2833(keys: str) -> str:
    """Each key as SIPp's own recording of it, played as it ships (the same key twice is the same timestamp)."""
    return pause(0.4).join(f'<nop><action><exec play_pcap_audio="{RECORDINGS}/dtmf_2833_{KEY_NAMES[key]}.pcap"/>'
                           f"</action></nop>\n" for key in keys)


def info(keys: str, cseq: int, *, relay: bool = True) -> str:
    return pause(0.1).join(
        in_dialog("INFO", cseq + i, f"Signal={key}\n    Duration=160", "application/dtmf-relay") if relay
        else in_dialog("INFO", cseq + i, key, "application/dtmf") for i, key in enumerate(keys))


@dataclass
class SippRun:
    returncode: int
    messages: str
    errors: str

    def __str__(self) -> str:
        """SIPp's complaint and the start lines of the messages, for a failing assertion."""
        lines = []
        for block in self.messages.split("----------------------------------------------- ")[1:]:
            _, head, body = [*block.split("\n", 2), "", ""][:3]
            cseq = next((line for line in body.splitlines() if line.startswith("CSeq")), "")
            lines.append(f"{'<-' if 'received' in head else '->'} {body.strip().splitlines()[0]} ({cseq})"
                         if body.strip() else head)
        return self.errors[-600:] + "\n" + "\n".join(lines)

    def received(self, start: str) -> list[str]:
        blocks = self.messages.split("----------------------------------------------- ")[1:]
        found = []
        for block in blocks:
            _, head, body = ([*block.split("\n", 2), "", ""])[:3]
            if "message received" in head and body.strip().startswith(start):
                found.append(body.strip())
        return found


def scenario(*steps: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'
            '<scenario name="simkeep test caller">\n' + "".join(steps) + "</scenario>\n")


def sipp(workdir: Path, port: int, steps: str, *, ear: int, caller: str = CALLER, hotline: str = "hotline",
         timeout: float = 30, background: bool = False) -> SippRun | subprocess.Popen:
    name = f"sipp-{time.monotonic_ns()}"
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{name}.xml"
    path.write_text(steps)
    messages, errors = workdir / f"{name}.messages", workdir / f"{name}.errors"
    command = ["sipp", f"127.0.0.1:{port}", "-sf", str(path), "-i", "127.0.0.1", "-p", str(free_udp_port()),
               "-mi", "127.0.0.1", "-mp", str(free_udp_port()), "-m", "1", "-nostdin", "-timeout", f"{timeout}s",
               "-timeout_error", "-trace_msg", "-message_file", str(messages), "-trace_err", "-error_file",
               str(errors), "-key", "ear", str(ear), "-key", "caller", caller, "-key", "hotline", hotline]
    if background:
        return subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    process = subprocess.run(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             timeout=timeout + 10)
    return SippRun(process.returncode, _read(messages), _read(errors) + process.stderr.decode(errors="replace"))


def finished(process: subprocess.Popen, workdir: Path) -> SippRun:
    process.wait(40)
    text = "".join(_read(path) for path in sorted(workdir.glob("*.messages")))
    return SippRun(process.returncode, text, "".join(_read(path) for path in sorted(workdir.glob("*.errors"))))


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def until(condition: Callable[[], object], what: str, timeout: float = 20) -> object:
    """Poll `condition` until it is true (a bound, never a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} not reached within {timeout} s")
