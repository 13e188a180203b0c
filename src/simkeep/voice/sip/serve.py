"""The voice process: the user agent on its port until SIGTERM or SIGINT, then every call hung up (the dialogues
hear HungUp), the registration removed, exit 0. Nothing a call does stops the process (call.py catches it)."""

from __future__ import annotations

import asyncio
import signal

import structlog

from simkeep.voice import flow
from simkeep.voice.sip.agent import AudioFor, Observer, Options, UserAgent, log_observer

log = structlog.get_logger()


async def serve(agent: UserAgent) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    await agent.start()
    log.info("voice.listening", host=agent.options.host, port=agent.port,
             registrar=agent.options.registrar or None, max_calls=agent.options.max_calls)
    await stop.wait()
    log.info("voice.stopping", calls=len(agent.calls))
    await agent.stop()


def run(dialogue: flow.Dialogue, audio_for: AudioFor, options: Options, *,
        observer: Observer = log_observer) -> int:
    asyncio.run(serve(UserAgent(dialogue, audio_for, options, observer=observer)))
    return 0
