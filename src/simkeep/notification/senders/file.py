"""Default sender: one JSON line per message in $SIMKEEP_DATA_DIR/messages.log, echoed to the console."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from simkeep.notification.senders.base import Outgoing, TemporaryFailure


class FileSender:
    def __init__(self, path: Path, echo: bool = True) -> None:
        self.path = path
        self.echo = echo
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, message: Outgoing) -> None:
        line = json.dumps({
            "id": str(message.id), "topic": message.topic, "channel": message.channel,
            "to": message.recipient, "language": message.language, "text": message.text,
            "payload": message.payload, "attempt": message.attempt,
        }, ensure_ascii=False)
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")  # flushed on close: a crash of this process loses nothing written
        except OSError as exc:
            raise TemporaryFailure(str(exc)) from exc
        if self.echo:  # the console ends up in journals and CI logs: never a sign-in code there
            print(f"[{message.channel} → {message.recipient}] {console_text(message)}", flush=True)


def console_text(message: Outgoing) -> str:
    """The message as the console shows it: a sign-in code's digits replaced by ******."""
    code = str(message.payload.get("code", "")) if message.topic == "otp.code" else ""
    return message.text.replace(code, "******") if code else message.text
