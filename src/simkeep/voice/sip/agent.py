"""The hotline's SIP user agent over UDP (RFC 3261): it answers calls (UAS), ends and transfers them, and keeps
itself registered. Each call's dialogue is in call.py; this module is the transport and transaction layer.

Transactions, kept small for UDP (RFC 3261 §17): a retransmitted request gets our last response again and is not
acted on twice (server transactions remembered for 32 s, Timer J); our own requests (BYE, REFER, REGISTER) are
retransmitted at T1, 2·T1 ... T2 until a final response or 64·T1 (Timers E and F). Our 2xx to an INVITE is
retransmitted by the call until the ACK (§13.3.1.4).

Who is calling is believed only from trusted peers (the operator's proxy or SBC): P-Asserted-Identity (RFC 3325)
and From are free text to anyone else, so a call from another address is treated as a withheld number."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import phonenumbers
import structlog

from simkeep.config import Settings
from simkeep.voice import flow
from simkeep.voice.sip import sdp
from simkeep.voice.sip.call import ALLOW, CallLeg
from simkeep.voice.sip.message import Message, NameAddr, ParseError, Uri, mark_received, new_tag, parse, response
from simkeep.voice.sip.register import Registration
from simkeep.voice.sip.rtp import Metronome

log = structlog.get_logger()

Observer = Callable[[str, dict[str, object]], None]
AudioFor = Callable[[flow.Prompt], bytes]


@dataclass(frozen=True)
class Options:
    """How the agent listens and presents itself (built from Settings by `voice.service`)."""

    host: str = "127.0.0.1"
    port: int = 5060  # 0: any free port
    public_host: str | None = None  # the address put in Contact and SDP, when `host` is not reachable as is
    rtp_ports: tuple[int, int] = (10000, 10999)
    max_calls: int = 50
    region: str = "FR"
    user: str = "hotline"
    trusted_peers: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    registrar: str | None = None  # sip:host:port
    password: str | None = None
    register_expires: int = 600
    transfer_timeout: float = 30.0
    dialogue_threads: int = 8
    t1: float = 0.5  # RFC 3261 §17.1.1.1: the round-trip estimate every retransmission timer scales with

    @property
    def t2(self) -> float:
        return 8 * self.t1  # 4 s for the default T1

    @property
    def contact_host(self) -> str:
        return self.public_host or self.host

    @classmethod
    def from_settings(cls, settings: Settings) -> Options:
        low, _, high = settings.voice_rtp_ports.partition("-")
        return cls(host=settings.voice_sip_host, port=settings.voice_sip_port, public_host=settings.voice_public_host,
                   rtp_ports=(int(low), int(high or low)), max_calls=settings.voice_max_calls,
                   region=settings.default_region, user=settings.voice_user,
                   trusted_peers=settings.voice_trusted_peers, registrar=settings.voice_registrar,
                   password=settings.voice_password)


def log_observer(event: str, fields: dict[str, object]) -> None:
    log.info(event, **fields)


@dataclass
class _Pending:
    future: asyncio.Future[Message]
    method: str


@dataclass
class _Answered:
    data: bytes
    addr: tuple[str, int]
    at: float = field(default_factory=time.monotonic)


class UserAgent(asyncio.DatagramProtocol):
    def __init__(self, dialogue: flow.Dialogue, audio_for: AudioFor, options: Options, *,
                 observer: Observer = log_observer) -> None:
        self.unacked: dict[tuple[str, int], asyncio.Event] = {}  # (Call-ID, CSeq) of a final answer to an INVITE
        self.tasks: set[asyncio.Task[None]] = set()
        self.dialogue = dialogue
        self.audio_for = audio_for
        self.options = options
        self.observer = observer
        self.calls: dict[str, CallLeg] = {}
        self.metronome = Metronome()
        self.executor = ThreadPoolExecutor(options.dialogue_threads, thread_name_prefix="voice-dialogue")
        self.transport: asyncio.DatagramTransport | None = None
        self.answered: OrderedDict[tuple[str, str], _Answered] = OrderedDict()  # server transactions
        self.pending: dict[str, _Pending] = {}  # client transactions by branch
        self.registration: Registration | None = None
        self.stopping = False
        self.trusted = [ipaddress.ip_network(peer, strict=False) for peer in options.trusted_peers]
        if options.registrar:  # the proxy we register at is the one that routes the operator's calls to us
            with contextlib.suppress(ValueError):  # a host name: list its address in trusted_peers
                self.trusted.append(ipaddress.ip_network(Uri.parse(options.registrar).host))
        self.used_rtp_ports: set[int] = set()

    # -- life -----------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(self.options.host, self.options.port))
        if self.options.registrar:
            self.registration = Registration(self, Uri.parse(self.options.registrar))
            await self.registration.start()

    @property
    def port(self) -> int:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        """Refuse new calls, end every call with BYE (the dialogues hear HungUp), unregister, close."""
        self.stopping = True
        legs = list(self.calls.values())
        await asyncio.gather(*(leg.shutdown() for leg in legs), return_exceptions=True)
        if self.registration is not None:
            await self.registration.stop()
        for task in self.tasks:
            task.cancel()
        await self.metronome.stop()
        if self.transport is not None:
            self.transport.close()
        self.executor.shutdown(wait=False, cancel_futures=True)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def error_received(self, exc: Exception) -> None:
        log.info("voice.sip.socket_error", error=type(exc).__name__)  # e.g. ICMP port unreachable: the peer left

    # -- sending --------------------------------------------------------------------------------------------------

    def send(self, message: Message, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(message.to_bytes(), addr)

    def respond(self, request: Message, status: int, addr: tuple[str, int], *, to_tag: str | None = None,
                headers: tuple[tuple[str, str], ...] = (), body: bytes = b"", content_type: str | None = None,
                on_no_ack: Callable[[], None] | None = None) -> Message:
        """Answer `request`; a final answer to an INVITE is sent again until its ACK (Timer G, §17.2.1; for a
        2xx the UAS core's duty, §13.3.1.4), and `on_no_ack` runs when none came in 64·T1."""
        reply = response(request, status, to_tag=to_tag or new_tag())  # §8.2.6.2: every response but 100 tags To
        for name, value in headers:
            reply.add(name, value)
        if body:
            reply.add("Content-Type", content_type or "application/sdp")
            reply.body = body
        self.send(reply, addr)
        key = (request.branch, request.cseq[1])
        self.answered.pop(key, None)  # kept in the order they were last answered, for forgetting the oldest
        self.answered[key] = _Answered(reply.to_bytes(), addr)
        self._forget_old_transactions()
        if request.method == "INVITE" and status >= 200:
            acked = asyncio.Event()
            self.unacked[(request.call_id, request.cseq[0])] = acked
            self.spawn(self._until_ack(reply.to_bytes(), addr, acked, on_no_ack,
                                       (request.call_id, request.cseq[0])))
        return reply

    async def _until_ack(self, data: bytes, addr: tuple[str, int], acked: asyncio.Event,
                         on_no_ack: Callable[[], None] | None, key: tuple[str, int]) -> None:
        interval, waited = self.options.t1, 0.0
        try:
            while waited < 64 * self.options.t1:
                try:
                    await asyncio.wait_for(acked.wait(), interval)
                    return
                except TimeoutError:
                    waited += interval
                    interval = min(interval * 2, self.options.t2)
                if self.transport is None or self.transport.is_closing():
                    return
                self.transport.sendto(data, addr)
            if on_no_ack is not None:
                on_no_ack()
        finally:
            self.unacked.pop(key, None)

    def spawn(self, coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _forget_old_transactions(self) -> None:
        horizon = time.monotonic() - 64 * self.options.t1  # Timer J
        while self.answered and next(iter(self.answered.values())).at < horizon:
            self.answered.popitem(last=False)

    async def request(self, message: Message, addr: tuple[str, int]) -> Message | None:
        """Send a non-INVITE request and wait for its final response (None after 64·T1 without one)."""
        loop = asyncio.get_running_loop()
        pending = _Pending(loop.create_future(), message.method or "")
        self.pending[message.branch] = pending
        data, interval, deadline = message.to_bytes(), self.options.t1, loop.time() + 64 * self.options.t1
        try:
            while loop.time() < deadline:
                if self.transport is None or self.transport.is_closing():
                    return None
                self.transport.sendto(data, addr)
                try:
                    return await asyncio.wait_for(asyncio.shield(pending.future),
                                                  min(interval, deadline - loop.time()))
                except TimeoutError:
                    interval = min(interval * 2, self.options.t2)
            return None
        finally:
            self.pending.pop(message.branch, None)

    # -- receiving ------------------------------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not data.strip():
            return  # a keep-alive (RFC 5626 §3.5.1 CRLF)
        try:
            message = parse(data)
        except ParseError as exc:
            log.info("voice.sip.unparsable", peer=addr[0], reason=str(exc)[:80])
            return
        if message.is_request:
            mark_received(message, addr[0], addr[1])
            self._request(message, addr)
        else:
            self._response(message)

    def _response(self, message: Message) -> None:
        pending = self.pending.get(message.branch)
        if pending is None or message.cseq[1] != pending.method or pending.future.done():
            return  # a stray or late response
        if message.status is not None and message.status >= 200:
            pending.future.set_result(message)

    def _request(self, request: Message, addr: tuple[str, int]) -> None:
        method = request.method
        if method != "ACK":
            seen = self.answered.get((request.branch, method or ""))
            if seen is not None:  # a retransmission: the same answer, no second action
                if self.transport is not None:
                    self.transport.sendto(seen.data, seen.addr)
                return
        leg = self.calls.get(request.call_id)
        to_tag = NameAddr.parse(request.get("To") or "").tag
        if leg is not None and to_tag is not None and to_tag != leg.local_tag:
            self.respond(request, 481, addr)  # another dialog of the same call (a fork): not ours
            return
        match method:
            case "INVITE" if to_tag is None:
                self._invite(request, addr)
            case "INVITE" | "BYE" | "INFO" | "NOTIFY" if leg is None:
                self.respond(request, 481, addr)
            case "INVITE":
                leg.reinvite(request, addr)  # type: ignore[union-attr]
            case "ACK":
                acked = self.unacked.pop((request.call_id, request.cseq[0]), None)
                if acked is not None:
                    acked.set()
            case "BYE":
                self.respond(request, 200, addr)
                leg.remote_bye()  # type: ignore[union-attr]
            case "CANCEL":
                self._cancel(request, addr, leg)
            case "INFO":
                leg.info(request, addr)  # type: ignore[union-attr]
            case "NOTIFY":
                leg.notify(request, addr)  # type: ignore[union-attr]
            case "OPTIONS":
                self.respond(request, 200, addr, headers=(("Allow", ALLOW), ("Accept", "application/sdp")))
            case _:
                self.respond(request, 405, addr, headers=(("Allow", ALLOW),))

    def _invite(self, request: Message, addr: tuple[str, int]) -> None:
        if request.call_id in self.calls:
            self.respond(request, 482, addr)  # the same call again on another branch: a loop (§8.2.2.2)
            return
        if self.stopping:
            self.respond(request, 503, addr, headers=(("Retry-After", "30"),))
            return
        if len(self.calls) >= self.options.max_calls:
            self.respond(request, 486, addr)
            self.observer("voice.call_refused", {"call_id": request.call_id, "status": 486})
            return
        try:
            offer = sdp.parse_offer(request.body)
        except (sdp.NotAcceptable, ValueError):
            self.respond(request, 488, addr)
            return
        call = flow.Call(call_id=request.call_id, caller=self.caller(request, addr[0]),
                         called=self.called(request), transport=flow.SIP)
        self.respond(request, 100, addr)
        leg = CallLeg(self, request, addr, offer, call)
        self.calls[call.call_id] = leg
        leg.begin()

    def _cancel(self, request: Message, addr: tuple[str, int], leg: CallLeg | None) -> None:
        if leg is None or leg.invite.branch != request.branch:
            self.respond(request, 481, addr)
            return
        self.respond(request, 200, addr)
        leg.cancel()  # answers the INVITE 487 if it is not answered yet; once answered a CANCEL changes nothing

    # -- who is calling -------------------------------------------------------------------------------------------

    def caller(self, request: Message, source: str) -> str | None:
        """The calling number in E.164, from a trusted peer's P-Asserted-Identity, else its From."""
        if not any(ipaddress.ip_address(source) in network for network in self.trusted):
            return None
        for value in [*request.all("P-Asserted-Identity"), request.get("From") or ""]:
            number = e164(NameAddr.parse(value).uri, self.options.region)
            if number:
                return number
        return None

    def called(self, request: Message) -> str:
        user = Uri.parse(request.uri or "").user
        return e164(request.uri or "", self.options.region) or user

    # -- what call legs need --------------------------------------------------------------------------------------

    def ended(self, leg: CallLeg) -> None:
        if self.calls.get(leg.call.call_id) is leg:
            del self.calls[leg.call.call_id]

    def rtp_port(self) -> int:
        """A free even port of the range (RFC 3550 §11: RTP on even ports), not yet used by a call."""
        low, high = self.options.rtp_ports
        candidates = [port for port in range(low + low % 2, high + 1, 2) if port not in self.used_rtp_ports]
        if not candidates:
            raise OSError("no free RTP port in the range")
        return secrets.choice(candidates)


def e164(uri: str, region: str) -> str | None:
    """The number a sip: or tel: URI names, in E.164; None when it names no valid number ("anonymous")."""
    user = Uri.parse(uri).user if ":" in uri else uri
    user = user.split(";")[0]
    try:
        number = phonenumbers.parse(user, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
