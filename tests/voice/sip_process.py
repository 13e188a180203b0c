"""`python -m tests.voice.sip_process` : the voice process (voice.sip.serve.run, as `simkeep voice` runs it) with a
scripted dialogue that plays a long prompt and waits for keys; what the dialogue heard is printed when it exits."""

from __future__ import annotations

import sys

import structlog

from simkeep.voice import flow
from simkeep.voice.sip import serve
from simkeep.voice.sip.agent import Options
from tests.voice.sip_harness import Script, say, tone


def main() -> int:
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stdout))
    script = Script(say("long", then=flow.Gather(max_digits=1, timeout=30)))
    code = serve.run(script, tone, Options(host="127.0.0.1", port=int(sys.argv[1])))
    print(f"dialogue heard: {script.events!r}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
