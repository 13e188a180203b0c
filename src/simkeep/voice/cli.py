"""`simkeep voice`: the hotline's voice menu over SIP, until SIGTERM."""

from __future__ import annotations

from dataclasses import replace

from simkeep.config import Settings
from simkeep.core import logs
from simkeep.db import Database
from simkeep.voice.menu import Menu
from simkeep.voice.prompts import audio
from simkeep.voice.sip import serve
from simkeep.voice.sip.agent import Options


def run_voice(settings: Settings, *, port: int | None = None) -> int:
    """Answer calls with the menu over the database; the process outlives a database outage (the caller hears
    "technical problem") and exits 0 on SIGTERM once every call is hung up."""
    logs.configure(settings.log_level)
    options = Options.from_settings(settings)
    if port is not None:
        options = replace(options, port=port)
    return serve.run(Menu(Database(settings.db_url), settings), audio, options)
