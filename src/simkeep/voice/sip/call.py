"""One call: the SIP dialog we answered (RFC 3261 §12–§15), its RTP stream, and the dialogue it carries.

`converse` is the call's story: ask the dialogue for its first turn (in a thread: it uses the database), answer
200 OK once the turn is ready (a CANCEL before that gets 487), then for each turn play the prompts, gather keys,
report the event and play the next turn, until the dialogue hangs up, transfers, or the caller hangs up. A
dialogue that raises is not the caller's problem: they hear "technical problem" and the call ends (DESIGN §7)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from simkeep.voice import flow
from simkeep.voice.sip import rtp, sdp
from simkeep.voice.sip.message import Message, NameAddr, Uri, new_branch, new_tag

if TYPE_CHECKING:
    from simkeep.voice.sip.agent import UserAgent

log = structlog.get_logger()

LANGUAGES = ("zh_CN", "fr", "en")
FAILED = "technical_problem"  # the menu's prompt for a dialogue that failed (voice/texts.py)
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY"
DTMF_INFO = {"application/dtmf-relay", "application/dtmf"}


def failure_turn(language: str | None) -> flow.Turn:
    """What a caller hears when the dialogue fails: in the call's language, or in all three before it is known."""
    languages = (language,) if language else LANGUAGES
    return flow.Turn(tuple(flow.Prompt(lang, FAILED) for lang in languages), flow.Hangup())


def info_key(request: Message) -> str | None:
    """The key of a SIP INFO: application/dtmf-relay ("Signal=5", the de-facto format) or application/dtmf."""
    kind = (request.get("Content-Type") or "").split(";")[0].strip().lower()
    text = request.body.decode("utf-8", "replace").strip()
    if kind == "application/dtmf-relay":
        for line in text.splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal":
                text = value.strip()
                break
        else:
            return None
    key = {"10": "*", "11": "#"}.get(text, text).upper()
    return key if len(key) == 1 and key in rtp.EVENT_KEYS else None


class Gone(Exception):
    """The call ended while we waited (the caller hung up, or we are stopping)."""


class CallLeg:
    def __init__(self, agent: UserAgent, invite: Message, addr: tuple[str, int], offer: sdp.Offer,
                 call: flow.Call) -> None:
        self.agent = agent
        self.invite = invite
        self.addr = addr
        self.offer = offer
        self.call = call
        self.local_tag = new_tag()
        self.remote = NameAddr.parse(invite.get("From") or "")  # their URI and tag
        self.local_uri = NameAddr.parse(invite.get("To") or "").uri
        contact = invite.get("Contact")
        self.remote_target = NameAddr.parse(contact).uri if contact else self.remote.uri
        self.route_set = [NameAddr.parse(value).uri for value in invite.all("Record-Route")]  # §12.1.1: as is
        self.cseq = itertools.count(secrets.randbelow(10_000) + 1)
        self.session_id = secrets.randbelow(2**31)
        self.stream: rtp.RtpStream | None = None
        self.rtp_port = 0
        self.answered = False
        self.keys: asyncio.Queue[str] = asyncio.Queue()
        self.key_pressed = asyncio.Event()
        self.gone = asyncio.Event()
        self.bye_sent = False
        self.dialogue_over = False  # the dialogue said the last word (Hangup, Transfer, None)
        self.language: str | None = None
        self.transfer_done: asyncio.Future[int] | None = None
        self.task: asyncio.Task[None] | None = None

    def observe(self, event: str, **fields: object) -> None:
        self.agent.observer(event, {"call_id": self.call.call_id, **fields})

    def begin(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.converse())
        self.observe("voice.call_started", caller_known=self.call.caller is not None, called=self.call.called)

    # -- the conversation -----------------------------------------------------------------------------------------

    async def converse(self) -> None:
        try:
            turn = await self.consult(self.agent.dialogue.start, self.call)
            if not self.gone.is_set():
                await self.answer()
            while turn is not None and not self.gone.is_set():
                event = await self.perform(turn)
                if event is None:
                    return
                turn = await self.consult(self.agent.dialogue.handle, self.call.call_id, event)
            if turn is None:
                self.dialogue_over = True
        except Gone:
            pass
        except Exception as exc:  # a bug here must not take the other calls down
            log.error("voice.call_failed", call_id=self.call.call_id, error=type(exc).__name__, where=_where(exc))
        finally:
            await self.close()

    async def consult(self, method: Callable[..., flow.Turn | None], *args: object) -> flow.Turn | None:
        """Run the dialogue in a thread; if it raises, the failure turn."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.agent.executor, method, *args)
        except Exception as exc:
            log.error("voice.dialogue_failed", call_id=self.call.call_id, error=type(exc).__name__,
                      where=_where(exc))
            return failure_turn(self.language)

    async def perform(self, turn: flow.Turn) -> flow.Event | None:
        """Play the turn and do what it says next: the event for the dialogue, or None when the call is over."""
        languages = {p.language for p in turn.prompts}
        if len(languages) == 1:  # the call's language, once the menu speaks only one
            self.language = languages.pop()
        self._flush_keys()  # keys typed while the dialogue was thinking belong to no prompt
        gathering = isinstance(turn.then, flow.Gather)
        completed = False
        try:
            completed = await self.play(turn.prompts, interruptible=gathering)
        finally:  # reported even when the caller hangs up while they play
            self.observe("voice.played", prompts=[p.name for p in turn.prompts],
                         languages=sorted({p.language for p in turn.prompts}), interrupted=not completed)
        match turn.then:
            case flow.Gather() as gather:
                event = await self.gather(gather)
                self.observe("voice.gathered", kind=type(event).__name__.lower(),
                             keys=len(getattr(event, "digits", "")))
                return event
            case flow.Transfer(uri=uri):
                self.dialogue_over = True
                await self.transfer(uri)
                return None
            case _:
                self.dialogue_over = True
                return None

    async def play(self, prompts: tuple[flow.Prompt, ...], *, interruptible: bool) -> bool:
        """True when every prompt played, False when a key stopped them (barge-in)."""
        if self.stream is None or not prompts:
            return True
        loop = asyncio.get_running_loop()
        audio = await loop.run_in_executor(None, self._audio, prompts)
        done = self.stream.play(rtp.frames(audio))
        waits = [done, self.gone.wait()] + ([self.key_pressed.wait()] if interruptible else [])
        try:
            await self._first(*waits)
        except Gone:
            if not (interruptible and not self.keys.empty()):
                raise
        if not done.done():  # a key (or the hang-up right after one: the keys typed still count)
            self.stream.stop()
            return False
        return done.result()

    def _audio(self, prompts: tuple[flow.Prompt, ...]) -> bytes:
        """The prompts' audio; one that cannot be loaded is left out (and logged): the caller hears the rest."""
        audio = []
        for prompt in prompts:
            try:
                audio.append(self.agent.audio_for(prompt))
            except Exception as exc:
                log.error("voice.prompt_failed", call_id=self.call.call_id, prompt=f"{prompt.language}/{prompt.name}",
                          error=type(exc).__name__)
        return b"".join(audio)

    async def gather(self, gather: flow.Gather) -> flow.Event:
        digits = ""
        while True:
            try:
                key = await asyncio.wait_for(self._next_key(), gather.timeout)
            except TimeoutError:
                return flow.Silence(digits)
            if gather.finish_on and key == gather.finish_on:
                return flow.Digits(digits)
            digits += key
            if len(digits) >= gather.max_digits:
                return flow.Digits(digits)

    async def _next_key(self) -> str:
        """The next key typed; Gone once none is left and the call ended. Keys that arrived with the hang-up (the
        caller typed a PIN and # and hung up at once: one read of the socket can bring both) are read first."""
        if self.keys.empty():
            self.key_pressed.clear()
            with contextlib.suppress(Gone):
                await self._first(self.key_pressed.wait(), self.gone.wait())
        if self.keys.empty():
            raise Gone
        key = self.keys.get_nowait()
        if self.keys.empty():
            self.key_pressed.clear()
        return key

    async def _first(self, *waits: Awaitable[object]) -> None:
        """Wait until one of `waits` is done (futures are left as they are; coroutines started here are
        cancelled); Gone if the call ended meanwhile."""
        started = [asyncio.ensure_future(w) for w in waits if not isinstance(w, asyncio.Future)]
        futures = [w for w in waits if isinstance(w, asyncio.Future)] + started
        try:
            await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in started:
                task.cancel()
        if self.gone.is_set():
            raise Gone

    def press(self, key: str) -> None:
        self.keys.put_nowait(key)
        self.key_pressed.set()

    def _flush_keys(self) -> None:
        while not self.keys.empty():
            self.keys.get_nowait()
        self.key_pressed.clear()

    # -- answering ------------------------------------------------------------------------------------------------

    async def answer(self) -> None:
        loop = asyncio.get_running_loop()
        stream = rtp.RtpStream((self.offer.host, self.offer.port), self.offer.event_type, self.press)
        for _ in range(20):
            try:
                port = self.agent.rtp_port()
                await loop.create_datagram_endpoint(lambda: stream, local_addr=(self.agent.options.host, port))
            except OSError:
                continue
            self.rtp_port = port
            self.agent.used_rtp_ports.add(port)
            break
        else:  # every port of the range is taken: the caller is told at once rather than left ringing
            log.error("voice.no_rtp_port", call_id=self.call.call_id)
            self.agent.respond(self.invite, 503, self.addr, to_tag=self.local_tag, headers=(("Retry-After", "30"),))
            raise Gone
        self.stream = stream
        self._send_2xx(self.invite, self.addr)
        self.answered = True
        self.agent.metronome.add(self.stream)
        self.observe("voice.answered", rtp_port=self.rtp_port)

    def _sdp(self) -> bytes:
        return sdp.answer(self.offer, host=self.agent.options.contact_host, port=self.rtp_port,
                          session_id=self.session_id, version=1)

    def _send_2xx(self, request: Message, addr: tuple[str, int]) -> None:
        """200 OK with our SDP; an INVITE never ACKed means the caller never got the call: it is lost."""
        contact = f"<sip:{self.agent.options.user}@{self.agent.options.contact_host}:{self.agent.port}>"
        self.agent.respond(request, 200, addr, to_tag=self.local_tag, body=self._sdp(),
                           headers=(("Contact", contact), ("Allow", ALLOW)),
                           on_no_ack=self._lost if request is self.invite else None)

    def _lost(self) -> None:
        log.info("voice.no_ack", call_id=self.call.call_id)
        self.gone.set()

    def reinvite(self, request: Message, addr: tuple[str, int]) -> None:
        """A re-INVITE (a session refresh, or hold): the same answer; RTP goes where the new offer says."""
        try:
            offer = sdp.parse_offer(request.body) if request.body else self.offer
        except (sdp.NotAcceptable, ValueError):
            self.agent.respond(request, 488, addr)
            return
        self.offer = offer
        if self.stream is not None:
            self.stream.remote = (offer.host, offer.port)
        self._send_2xx(request, addr)

    def cancel(self) -> None:
        if self.answered or self.gone.is_set():
            return
        self.agent.respond(self.invite, 487, self.addr, to_tag=self.local_tag)
        self.observe("voice.cancelled")
        self.gone.set()

    # -- in-dialog requests from the caller -----------------------------------------------------------------------

    def remote_bye(self) -> None:
        self.bye_sent = True  # nothing left to end
        if not self.gone.is_set():
            self.observe("voice.hung_up")
        self.gone.set()

    def info(self, request: Message, addr: tuple[str, int]) -> None:
        kind = (request.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind not in DTMF_INFO:
            self.agent.respond(request, 415, addr, headers=(("Accept", ", ".join(sorted(DTMF_INFO))),))
            return
        self.agent.respond(request, 200, addr)
        key = info_key(request)
        if key is not None:
            self.press(key)

    def notify(self, request: Message, addr: tuple[str, int]) -> None:
        """The progress of our REFER (RFC 3515 §2.4.5): a message/sipfrag status line."""
        self.agent.respond(request, 200, addr)
        if (request.get("Event") or "").split(";")[0].strip().lower() != "refer":
            return
        status = request.body.decode("utf-8", "replace").split()[1:2]
        if status and status[0].isdigit() and int(status[0]) >= 200 and self.transfer_done is not None \
                and not self.transfer_done.done():
            self.transfer_done.set_result(int(status[0]))

    # -- requests we send -----------------------------------------------------------------------------------------

    def new_request(self, method: str) -> tuple[Message, tuple[str, int]]:
        """A request within the dialog (§12.2.1.1): to the remote target through the route set."""
        uri, routes = self.remote_target, list(self.route_set)
        if routes and "lr" not in Uri.parse(routes[0]).params:  # a strict router (RFC 2543)
            uri, routes = routes[0], [*routes[1:], self.remote_target]
        next_hop = Uri.parse(routes[0] if routes and uri != routes[0] else uri).address()
        options = self.agent.options
        message = Message(method=method, uri=uri)
        message.add("Via", f"SIP/2.0/UDP {options.contact_host}:{self.agent.port};branch={new_branch()};rport")
        message.add("Max-Forwards", "70")
        message.add("From", f"<{self.local_uri}>;tag={self.local_tag}")
        remote_tag = f";tag={self.remote.tag}" if self.remote.tag else ""
        message.add("To", f"<{self.remote.uri}>{remote_tag}")
        message.add("Call-ID", self.call.call_id)
        message.add("CSeq", f"{next(self.cseq)} {method}")
        for route in routes:
            message.add("Route", f"<{route}>")
        return message, next_hop

    async def bye(self) -> None:
        if self.bye_sent or not self.answered:
            return
        self.bye_sent = True
        message, hop = self.new_request("BYE")
        self.observe("voice.bye")
        answer = await self.agent.request(message, hop)
        if answer is None or answer.status != 200:
            log.info("voice.bye_unanswered", call_id=self.call.call_id, status=answer and answer.status)

    async def transfer(self, uri: str) -> None:
        """Blind transfer (RFC 3515): REFER to the agent, wait for the NOTIFY saying it was answered (or a
        timeout), then hang up our leg."""
        message, hop = self.new_request("REFER")
        options = self.agent.options
        message.add("Contact", f"<sip:{options.user}@{options.contact_host}:{self.agent.port}>")
        message.add("Refer-To", f"<{uri}>")
        message.add("Referred-By", f"<{self.local_uri}>")
        self.transfer_done = asyncio.get_running_loop().create_future()
        answer = await self.agent.request(message, hop)
        status = answer.status if answer is not None else None
        if status is not None and 200 <= status < 300:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._first(self.transfer_done), options.transfer_timeout)
        final = self.transfer_done.result() if self.transfer_done.done() else None
        self.observe("voice.transferred", refer_status=status, notify_status=final)

    # -- the end --------------------------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """The process is stopping: hang up, let the dialogue hear it, wait for the call to close."""
        if not self.answered and not self.gone.is_set():
            self.agent.respond(self.invite, 503, self.addr, to_tag=self.local_tag)
        await self.bye()
        self.gone.set()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)

    async def close(self) -> None:
        hung_up = not self.dialogue_over  # the caller left, the call was lost, or we are stopping
        if not self.bye_sent and self.answered:
            await self.bye()
        self.gone.set()
        if self.stream is not None:
            self.agent.metronome.discard(self.stream)
            self.stream.close()
            self.agent.used_rtp_ports.discard(self.rtp_port)
        if hung_up:  # the dialogue records the end (what was done stays done)
            await self.consult(self.agent.dialogue.handle, self.call.call_id, flow.HungUp())
        self.agent.ended(self)
        self.observe("voice.call_ended", hung_up=hung_up)


def _where(exc: BaseException) -> str:
    """Where an exception was raised (file:line), never its message: SQL errors carry bound parameters."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb else "?"
