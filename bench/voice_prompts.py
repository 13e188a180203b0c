"""The hotline's prompts: what loading them costs a voice process, so it knows whether to warm the cache at start.

Every recording (src/simkeep/voice/prompts) read and encoded to G.711 μ-law from a cold cache, the encoder alone
against a raw baseline (Python 3.11–3.12's C `audioop.lin2ulaw`, deprecated there and gone in 3.13, the reason the
project encodes in Python; on 3.13 the ratio is not measured), and a whole balance turn's audio once cached.
"""

from __future__ import annotations

import statistics
import time
import warnings
import wave
from collections.abc import Callable
from datetime import date

from bench.common import Sizes, note, report
from simkeep.core.money import Money
from simkeep.voice import g711, prompts, speech
from simkeep.voice.flow import Prompt


def bench_voice_prompts(sizes: Sizes) -> None:
    every = [Prompt(path.parent.name, path.stem) for path in sorted(prompts.FOLDER.glob("*/*.wav"))]
    prompts.audio.cache_clear()
    started = time.perf_counter()
    seconds = prompts.duration(every)
    cold = time.perf_counter() - started
    report("voice_prompts_files", len(every), "files")
    report("voice_prompts_audio", seconds, "s of audio")
    report("voice_prompts_cold_load", cold * 1000, "ms")
    report("voice_prompts_realtime_factor", seconds / cold, "x (seconds of audio loaded per second)")

    pcm = b"".join(_frames(prompt) for prompt in every)
    rounds = 3 if sizes.label == "quick" else 10
    ours = _best(lambda: g711.ulaw(pcm), rounds)
    report("voice_ulaw_encode", len(pcm) / 2 / ours / 1e6, "M samples/s")
    baseline = _audioop()
    if baseline is None:
        note("voice_prompts: no audioop on this Python, so no baseline ratio")
    else:
        assert baseline(pcm, 2) == g711.ulaw(pcm)
        raw = _best(lambda: baseline(pcm, 2), rounds)
        report("voice_ulaw_encode_raw_audioop", len(pcm) / 2 / raw / 1e6, "M samples/s")
        report("voice_ulaw_encode_ratio", ours / raw, "x the C encoder's time")

    turn = (*speech.amount(Money(1050, "EUR"), speech.FR), *speech.day(date(2027, 3, 12), speech.FR,
                                                                          today=date(2026, 11, 30)))
    warm = [_timed(lambda: b"".join(prompts.audio(p) for p in turn)) for _ in range(200)]
    report("voice_turn_audio_warm_p50", statistics.median(warm) * 1e6, f"µs ({len(turn)} pieces)")


def _frames(prompt: Prompt) -> bytes:
    with wave.open(str(prompts.path(prompt)), "rb") as recording:
        return recording.readframes(recording.getnframes())


def _audioop() -> Callable[[bytes, int], bytes] | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ModuleNotFoundError:
            return None
    return audioop.lin2ulaw


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _best(action: Callable[[], object], rounds: int) -> float:
    return min(_timed(action) for _ in range(rounds))
