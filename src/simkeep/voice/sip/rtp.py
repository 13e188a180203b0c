"""Audio out and keys in over RTP (RFC 3550), for every call on one asyncio loop.

Out: one `Metronome` ticks every 20 ms on an absolute schedule (start + n × 20 ms of the loop's monotonic clock,
so sleeping late never drifts) and each call's `RtpStream` sends one 160-byte μ-law frame per tick: the next frame
of what is playing, else silence. Silence is sent rather than nothing so that NAT bindings and the far end's jitter
buffer stay steady; the stream is one talkspurt, so the marker bit is set on its first packet only.

In: RFC 4733 telephone-events (DTMF as RTP, the successor of RFC 2833). One key press is many packets with the
same RTP timestamp, the last three repeated with the end bit: a key is reported once, on the first packet of a new
timestamp, or of the same timestamp after its end (a recording replayed, as SIPp does with one pcap per key)."""

from __future__ import annotations

import asyncio
import secrets
import struct
from collections import deque
from collections.abc import Callable, Iterable

FRAME_SECONDS = 0.020
FRAME_BYTES = 160  # 20 ms of 8 kHz G.711
SILENCE = b"\xff" * FRAME_BYTES  # μ-law zero
MAX_CATCH_UP = 10  # a loop stalled longer than this many frames skips them instead of bursting
EVENT_KEYS = "0123456789*#ABCD"  # RFC 4733 §3.2: events 0-15
HEADER = struct.Struct("!BBHII")


def frames(audio: bytes) -> list[bytes]:
    """μ-law audio as 20 ms frames, the last one padded with silence."""
    chunks = [audio[i:i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES)]
    if chunks and len(chunks[-1]) < FRAME_BYTES:
        chunks[-1] = chunks[-1] + SILENCE[len(chunks[-1]):]
    return chunks


def packet(payload_type: int, sequence: int, timestamp: int, ssrc: int, payload: bytes, *, marker: bool) -> bytes:
    return HEADER.pack(0x80, (0x80 if marker else 0) | payload_type, sequence & 0xFFFF, timestamp & 0xFFFFFFFF,
                       ssrc) + payload


def parse(data: bytes) -> tuple[int, int, int, bytes] | None:
    """(payload type, timestamp, ssrc, payload) of an RTP packet, or None if it is not one (RFC 3550 §5.1)."""
    if len(data) < HEADER.size or data[0] >> 6 != 2:
        return None
    first, second, _, timestamp, ssrc = HEADER.unpack_from(data)
    start = HEADER.size + 4 * (first & 0x0F)
    if first & 0x10:  # header extension
        if len(data) < start + 4:
            return None
        start += 4 + 4 * struct.unpack_from("!H", data, start + 2)[0]
    end = len(data) - (data[-1] if first & 0x20 and data else 0)  # padding
    if start > end:
        return None
    return second & 0x7F, timestamp, ssrc, data[start:end]


class EventReader:
    """Keys from telephone-event payloads, each press once."""

    def __init__(self) -> None:
        self.last: tuple[int, int] | None = None  # (ssrc, timestamp) of the last event
        self.ended = False

    def key(self, ssrc: int, timestamp: int, payload: bytes) -> str | None:
        if len(payload) < 4 or payload[0] >= len(EVENT_KEYS):
            return None
        end = bool(payload[1] & 0x80)
        new = (ssrc, timestamp) != self.last or (self.ended and not end)
        self.last, self.ended = (ssrc, timestamp), end if new else (self.ended or end)
        return EVENT_KEYS[payload[0]] if new else None


class RtpStream(asyncio.DatagramProtocol):
    """One call's RTP: frames out on the metronome's ticks, keys in to `on_key`."""

    def __init__(self, remote: tuple[str, int], event_type: int | None, on_key: Callable[[str], None]) -> None:
        self.remote = remote
        self.event_type = event_type
        self.on_key = on_key
        self.transport: asyncio.DatagramTransport | None = None
        self.ssrc = secrets.randbits(32)
        self.sequence = secrets.randbits(16)  # random starts (RFC 3550 §5.1)
        self.timestamp = secrets.randbits(32)
        self.first = True
        self.queue: deque[bytes] = deque()
        self.done: asyncio.Future[bool] | None = None
        self.events = EventReader()
        self.sent = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        parsed = parse(data)
        if parsed is None or self.event_type is None or parsed[0] != self.event_type:
            return  # the caller's voice is not listened to
        key = self.events.key(parsed[2], parsed[1], parsed[3])
        if key is not None:
            self.on_key(key)

    def play(self, audio: Iterable[bytes]) -> asyncio.Future[bool]:
        """Queue frames after whatever plays; the future is True once the last is sent, False if stopped."""
        self.queue.extend(audio)
        if self.done is None or self.done.done():
            self.done = asyncio.get_running_loop().create_future()
        if not self.queue:
            self.done.set_result(True)
        return self.done

    def stop(self) -> None:
        """Barge-in: drop what is queued."""
        self.queue.clear()
        if self.done is not None and not self.done.done():
            self.done.set_result(False)

    def tick(self, skipped: int = 0) -> None:
        self.timestamp += FRAME_BYTES * skipped  # the media clock runs on through a stall
        payload = self.queue.popleft() if self.queue else SILENCE
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(packet(0, self.sequence, self.timestamp, self.ssrc, payload, marker=self.first),
                                  self.remote)
            self.sent += 1
        self.first = False
        self.sequence += 1
        self.timestamp += FRAME_BYTES
        if not self.queue and self.done is not None and not self.done.done():
            self.done.set_result(True)

    def close(self) -> None:
        self.stop()
        if self.transport is not None:
            self.transport.close()


class Metronome:
    """The one 20 ms clock every stream sends on."""

    def __init__(self) -> None:
        self.streams: set[RtpStream] = set()
        self.task: asyncio.Task[None] | None = None

    def add(self, stream: RtpStream) -> None:
        self.streams.add(stream)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run())

    def discard(self, stream: RtpStream) -> None:
        self.streams.discard(stream)

    async def stop(self) -> None:
        self.streams.clear()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start, n = loop.time(), 0
        while self.streams:
            n += 1
            late = loop.time() - (start + n * FRAME_SECONDS)
            if late < 0:
                await asyncio.sleep(-late)
            skipped = 0
            if late > MAX_CATCH_UP * FRAME_SECONDS:
                skipped = int(late / FRAME_SECONDS)
                n += skipped
            for stream in list(self.streams):
                stream.tick(skipped)
