"""Keeping the hotline registered (RFC 3261 §10): REGISTER our Contact for the hotline's user at the registrar,
answer its digest challenge, refresh before the binding expires, and remove it (Expires: 0) when stopping. A
registrar that is down is retried with a growing pause; the calls already up are not affected."""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING

import structlog

from simkeep.voice.sip import digest
from simkeep.voice.sip.message import Message, NameAddr, Uri, new_branch, new_call_id, new_tag

if TYPE_CHECKING:
    from simkeep.voice.sip.agent import UserAgent

log = structlog.get_logger()

RETRY_SECONDS = (1, 2, 5, 10, 30, 60)


class Registration:
    def __init__(self, agent: UserAgent, registrar: Uri) -> None:
        self.agent = agent
        self.registrar = registrar
        self.call_id = new_call_id(agent.options.contact_host)  # one Call-ID for every refresh (§10.2.4)
        self.tag = new_tag()
        self.cseq = itertools.count(1)
        self.task: asyncio.Task[None] | None = None
        self.registered = asyncio.Event()
        self.expires = 0

    @property
    def aor(self) -> str:
        return f"sip:{self.agent.options.user}@{self.registrar.host}"

    async def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.keep())

    async def keep(self) -> None:
        failures = 0
        while True:
            granted = await self.register(self.agent.options.register_expires)
            if granted:
                failures, self.expires = 0, granted
                self.registered.set()
                await asyncio.sleep(max(granted * 0.8, granted - 30, 1))  # refresh well before it lapses
            else:
                self.registered.clear()
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.registered.is_set():
            await self.register(0)
            self.registered.clear()

    async def register(self, expires: int) -> int:
        """Send REGISTER (answering one challenge); the seconds granted, 0 when refused or unanswered."""
        message = self._message(expires)
        answer = await self.agent.request(message, self.registrar.address())
        if answer is not None and answer.status in (401, 407) and self.agent.options.password:
            header = "WWW-Authenticate" if answer.status == 401 else "Proxy-Authenticate"
            reply = "Authorization" if answer.status == 401 else "Proxy-Authorization"
            try:
                credentials = digest.authorization(answer.get(header) or "", method="REGISTER",
                                                   uri=message.uri or "", user=self.agent.options.user,
                                                   password=self.agent.options.password)
            except digest.Unsupported as exc:
                log.warning("voice.register_unsupported", reason=str(exc))
                return 0
            message = self._message(expires)
            message.add(reply, credentials)
            answer = await self.agent.request(message, self.registrar.address())
        if answer is None or answer.status != 200:
            log.warning("voice.register_failed", registrar=str(self.registrar.host),
                        status=answer.status if answer else None)
            return 0
        log.info("voice.registered", registrar=str(self.registrar.host), expires=expires)
        return expires and self._granted(answer, expires)

    def _granted(self, answer: Message, asked: int) -> int:
        """The expiry the registrar granted our Contact (its Contact's expires, else Expires, else ours)."""
        ours = f"@{self.agent.options.contact_host}:{self.agent.port}"
        for value in answer.all("Contact"):
            contact = NameAddr.parse(value)
            if ours in contact.uri and contact.params.get("expires", "").isdigit():
                return int(contact.params["expires"])
        expires = answer.get("Expires") or ""
        return int(expires) if expires.isdigit() else asked

    def _message(self, expires: int) -> Message:
        options = self.agent.options
        uri = f"sip:{self.registrar.host}" + (f":{self.registrar.port}" if self.registrar.port else "")
        message = Message(method="REGISTER", uri=uri)
        message.add("Via", f"SIP/2.0/UDP {options.contact_host}:{self.agent.port};branch={new_branch()};rport")
        message.add("Max-Forwards", "70")
        message.add("From", f"<{self.aor}>;tag={self.tag}")
        message.add("To", f"<{self.aor}>")
        message.add("Call-ID", self.call_id)
        message.add("CSeq", f"{next(self.cseq)} REGISTER")
        message.add("Contact", f"<sip:{options.user}@{options.contact_host}:{self.agent.port}>")
        message.add("Expires", str(expires))
        message.add("User-Agent", "simkeep")
        return message
