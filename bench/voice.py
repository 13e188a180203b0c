"""How many concurrent calls the hotline's SIP user agent (voice/sip/) holds with clean audio: SIPp places N calls
at once (-l N) through Kamailio into the agent, which answers each with a long prompt; what the callers receive is
measured at their RTP addresses by a receiver of its own (another process, kernel receive timestamps:
SO_TIMESTAMPNS), as the deviation of each packet interval from 20 ms and the packets lost (sequence gaps).
N grows until a call fails, a packet is lost or the 99th percentile deviation reaches a whole interval; the figures
are the largest N whose p99 stayed within JITTER_BOUND_MS at every step (held) and the largest without failure or
loss (carried). On a shared machine the raw sender's own p99 says how much of the deviation is the machine's. Baseline, in the same run: a bare asyncio sender pacing the same 160-byte frames for N streams
on an absolute 20 ms schedule to the same receiver (what Python's loop can do with no SIP, no dialogue, no prompts).

The agent runs in a process of its own with a scripted dialogue (the prompt, then hang up), so the figure is the
transport's: the menu's database work happens between turns, in a thread pool, never on the audio clock."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import selectors
import socket
import struct
import tempfile
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from tests.voice.peers import AwaitBye, Kamailio, caller_scenario, run_sipp

from bench.common import Sizes, note, report

PROMPT_SECONDS = 8.0  # each call hears this long a prompt, then the agent hangs up
JITTER_BOUND_MS = 5.0
OVERLOADED_MS = 20.0  # a p99 deviation of a whole packet interval: the ramp stops there
FRAME = 160  # bytes of μ-law: 20 ms at 8 kHz
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
HOTLINE = "hotline"


@dataclass(frozen=True)
class Audio:
    streams: int  # streams that delivered packets
    packets: int
    lost: int
    mean_ms: float  # mean |interval - 20 ms|
    p99_ms: float
    max_ms: float

    def clean(self, expected: int) -> bool:
        return self.streams == expected and self.lost == 0 and self.p99_ms <= JITTER_BOUND_MS

    def describe(self) -> str:
        return (f"{self.streams} streams, {self.packets} packets, {self.lost} lost, |interval - 20 ms| mean "
                f"{self.mean_ms:.2f} / p99 {self.p99_ms:.2f} / max {self.max_ms:.2f} ms")


def bench_voice(sizes: Sizes) -> None:
    steps = [5, 20] if sizes.label == "quick" else [10, 25, 50, 100, 200, 300]
    held = carried = 0
    within_bound = True
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as work, Kamailio(Path(work) / "kamailio") as proxy:
        agent, stop = _start_agent(proxy)
        try:
            for calls in steps:
                audio, failed = _calls(proxy, Path(work), calls)
                raw = _baseline(calls)  # right after, so both meet the same load
                note(f"voice: {calls} concurrent calls ({failed} failed): {audio.describe()}")
                note(f"voice: raw asyncio sender, {calls} streams: {raw.describe()}")
                report(f"voice_{calls}_calls_p99_jitter", round(audio.p99_ms, 2), "ms")
                report(f"voice_{calls}_raw_p99_jitter", round(raw.p99_ms, 2), "ms")
                report(f"voice_{calls}_p99_ratio", round(audio.p99_ms / max(raw.p99_ms, 0.01), 2), "x")
                if failed or audio.lost or audio.streams != calls or audio.p99_ms > OVERLOADED_MS:
                    break
                carried = calls
                within_bound = within_bound and audio.clean(calls)
                held = calls if within_bound else held
        finally:
            stop.send("stop")
            agent.join(timeout=30)
    report("voice_calls_held", held, "calls")  # every step up to it within JITTER_BOUND_MS
    report("voice_calls_carried", carried, "calls")  # no call failed, no packet lost, p99 under OVERLOADED_MS


def _calls(proxy: Kamailio, work: Path, calls: int) -> tuple[Audio, int]:
    """SIPp places `calls` calls at once, each caller's media address one of the receiver's ports."""
    receiver, ports = _start_receiver(calls)
    injection = work / f"ports-{calls}.csv"
    injection.write_text("SEQUENTIAL\n" + "".join(f"{port};\n" for port in ports))
    scenario = caller_scenario(work, [AwaitBye(timeout=PROMPT_SECONDS + 30)], media_port="[field0]")
    result = run_sipp(proxy, work, scenario, {"hotline": HOTLINE, "caller": "bench"}, calls=calls, trace=False,
                      timeout=PROMPT_SECONDS + 60,
                      extra=["-l", str(calls), "-r", str(calls), "-inf", str(injection), "-mi", "127.0.0.1"])
    receiver.send("stop")
    audio = receiver.recv()
    failed = calls if result.returncode not in (0, 1) else _failed_calls(result.errors)
    return audio, failed


def _failed_calls(errors: str) -> int:
    """SIPp returns 1 when some calls failed; its error log has one 'Aborting call' (or timeout) line per call."""
    return sum(1 for line in errors.splitlines() if "Aborting call" in line or "timeout" in line.lower())


# -- the receiver: RTP addresses of the callers, in a process of its own --------------------------------------------

def _start_receiver(streams: int) -> tuple[Connection, list[int]]:
    """The receiver's process: its ports now; send it anything once the calls are over, then read its Audio."""
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_receive, args=(theirs, streams), daemon=True)
    process.start()
    ports = ours.recv()
    return ours, ports


def _receive(conn: Connection, streams: int) -> None:
    """Bind `streams` UDP ports, send them back, then record (kernel time, sequence, marker) per port until told to
    stop (the calls are over); send the Audio figures back."""
    selector = selectors.DefaultSelector()
    sockets = []
    for _ in range(streams):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, [])
        sockets.append(sock)
    conn.send([sock.getsockname()[1] for sock in sockets])
    while not conn.poll():
        for key, _ in selector.select(timeout=0.1):
            while True:
                try:
                    data, ancillary, _, _ = key.fileobj.recvmsg(2048, 64)  # type: ignore[union-attr]
                except BlockingIOError:
                    break
                if len(data) >= 12:
                    key.data.append((_kernel_time(ancillary), struct.unpack_from(">H", data, 2)[0], data[1] >> 7))
    conn.send(_figures([key.data for key in selector.get_map().values()]))
    for sock in sockets:
        sock.close()


def _kernel_time(ancillary: list[tuple[int, int, bytes]]) -> float:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            return seconds + nanoseconds / 1e9
    raise RuntimeError("no kernel receive timestamp (SO_TIMESTAMPNS) on an RTP packet")


def _figures(streams: list[list[tuple[float, int, int]]]) -> Audio:
    """Interval deviations between consecutive packets of a talkspurt (a marker bit starts a new one, after a
    pause in which nothing was sent); lost: sequence numbers never received."""
    deviations: list[float] = []
    lost = packets = 0
    for packets_of_stream in (stream for stream in streams if stream):
        packets += len(packets_of_stream)
        ordered = sorted(packets_of_stream, key=lambda p: p[0])
        for (t0, s0, _), (t1, s1, marker) in itertools.pairwise(ordered):
            gap = (s1 - s0) % 65536
            lost += gap - 1 if 0 < gap < 1000 else 0
            if gap == 1 and not marker:
                deviations.append(abs((t1 - t0) * 1000 - 20.0))
    deviations.sort()
    count = len(deviations) or 1
    return Audio(sum(1 for s in streams if s), packets, lost, sum(deviations) / count,
                 deviations[min(len(deviations) - 1, int(0.99 * len(deviations)))] if deviations else 0.0,
                 deviations[-1] if deviations else 0.0)


# -- the baseline: a bare asyncio sender ------------------------------------------------------------------------------

def _baseline(streams: int) -> Audio:
    receiver, ports = _start_receiver(streams)
    asyncio.run(_pace(ports, PROMPT_SECONDS))
    receiver.send("stop")
    return receiver.recv()


async def _pace(ports: list[int], seconds: float) -> None:
    """Every 20 ms on an absolute schedule, one RTP packet with a 160-byte frame to every port."""
    loop = asyncio.get_running_loop()
    transports = [(await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                        remote_addr=("127.0.0.1", port)))[0] for port in ports]
    frame = b"\xff" * FRAME
    start = loop.time()
    for tick in range(int(seconds / 0.02)):
        header = struct.pack(">BBHII", 0x80, 0x80 if tick == 0 else 0, tick % 65536, tick * FRAME, 0x5EED)
        for transport in transports:
            transport.sendto(header + frame)
        await asyncio.sleep(max(0.0, start + (tick + 1) * 0.02 - loop.time()))
    for transport in transports:
        transport.close()


# -- the agent under test, in a process of its own --------------------------------------------------------------------

def _start_agent(proxy: Kamailio) -> tuple[multiprocessing.process.BaseProcess, Connection]:
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(theirs, proxy.address), daemon=True)
    process.start()
    if not ours.poll(30) or ours.recv() != "ready":
        raise RuntimeError("the voice agent did not start and register")
    return process, ours


def _serve(conn: Connection, registrar: str) -> None:
    asyncio.run(_agent(conn, registrar))


async def _agent(conn: Connection, registrar: str) -> None:
    from simkeep.voice import flow
    from simkeep.voice.sip.agent import Options, UserAgent

    class Prompt:
        """The scripted dialogue: one long prompt, then hang up."""

        def start(self, call: flow.Call) -> flow.Turn:
            return flow.Turn((flow.Prompt("en", "bench"),), flow.Hangup())

        def handle(self, call_id: str, event: flow.Event) -> flow.Turn | None:
            return None

    tone = bytes((0x80 + (i * 37) % 64) for i in range(int(8000 * PROMPT_SECONDS)))  # audible, never silence
    agent = UserAgent(Prompt(), lambda prompt: tone,
                      Options(host="127.0.0.1", port=0, registrar=f"sip:{registrar}", user=HOTLINE,
                              max_calls=1000, rtp_ports=(30000, 39999)),
                      observer=lambda event, fields: None)
    await agent.start()
    conn.send("ready")
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    await agent.stop()

