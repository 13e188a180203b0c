"""The hotline's recorded prompts at run time: voice/prompts/<language>/<name>.wav (8 kHz, mono, 16-bit PCM, made
by scripts/voice_prompts.py or recorded by a person) as the G.711 μ-law audio a call carries, one byte a sample.

Each prompt is read and encoded once per process, then served from memory: a menu turn is a dozen small pieces, and
hundreds of calls play the same ones. The transport cuts the audio in 20 ms RTP frames (160 bytes).
"""

from __future__ import annotations

import functools
import re
import wave
from collections.abc import Iterable
from pathlib import Path

from simkeep.voice import g711
from simkeep.voice.flow import Prompt
from simkeep.voice.speech import LANGUAGES

FOLDER = Path(__file__).with_name("prompts")
SAMPLE_RATE = 8000  # samples, so μ-law bytes, a second
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # what the prompt script writes: no path separators, no "..".


class MissingPrompt(LookupError):
    """No usable recording for a prompt the menu asked for: a name or language with no file, or a file that is not
    8 kHz mono 16-bit PCM."""

    def __init__(self, prompt: Prompt, why: str) -> None:
        super().__init__(f"prompt {prompt.language}/{prompt.name}: {why} (run `make prompts`)")


def path(prompt: Prompt) -> Path:
    """Where the prompt's recording is (whether or not it exists)."""
    if prompt.language not in LANGUAGES or not _NAME.fullmatch(prompt.name):
        raise MissingPrompt(prompt, "not a prompt name")
    return FOLDER / prompt.language / f"{prompt.name}.wav"


@functools.cache
def audio(prompt: Prompt) -> bytes:
    """The prompt as μ-law bytes at 8 kHz."""
    try:
        with wave.open(str(path(prompt)), "rb") as recording:
            form = (recording.getframerate(), recording.getnchannels(), recording.getsampwidth())
            if form != (SAMPLE_RATE, 1, 2):
                raise MissingPrompt(prompt, f"{form[0]} Hz, {form[1]} channel(s), {8 * form[2]}-bit: not 8 kHz mono "
                                            "16-bit")
            return g711.ulaw(recording.readframes(recording.getnframes()))
    except FileNotFoundError:
        raise MissingPrompt(prompt, "no recording") from None
    except (wave.Error, EOFError) as error:
        raise MissingPrompt(prompt, f"not a PCM WAV file ({error})") from None


def duration(prompts: Iterable[Prompt]) -> float:
    """Seconds the prompts take to play, one after the other."""
    return sum(len(audio(prompt)) for prompt in prompts) / SAMPLE_RATE
