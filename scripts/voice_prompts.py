"""Record the hotline's prompts: every piece of voice.speech.PIECES and every sentence of voice.texts.TEXTS, in each
language that says it, as src/simkeep/voice/prompts/<language>/<name>.wav (8 kHz, mono, 16-bit PCM, silence trimmed,
peaks at -3 dBFS, a short pause after).

    python scripts/voice_prompts.py            # record what changed, delete what is stale (espeak-ng and sox)
    python scripts/voice_prompts.py --check    # list what is missing, stale or changed; exit 1 if anything is
    python scripts/voice_prompts.py --list fr  # each prompt's file name and text: what a voice talent records
    python scripts/voice_prompts.py --record fr studio/fr/*.wav   # a person's recordings replace those prompts

English and French are spoken by espeak-ng's own voices; Chinese as tone-numbered pinyin (pypinyin, with tone
sandhi) by its `cmn-latn-pinyin` voice, with Latin words ("simkeep") in the English voice. The manifest
(prompts/manifest.json) says what each file was made from: a prompt is recorded again only when its text or the
way it is said (voice, speed, the pinyin, the settings) changed, and a person's recording (--record) is kept until its text changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pypinyin import Style, lazy_pinyin, load_phrases_dict

from simkeep.voice import speech
from simkeep.voice.speech import EN, FR, LANGUAGES, PIECES, ZH

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ROOT / "src" / "simkeep" / "voice" / "prompts"
MANIFEST = PROMPTS / "manifest.json"
RECORDED = "recorded"  # how a person's recording is said

VOICES = {EN: "en-us", FR: "fr", ZH: "cmn-latn-pinyin"}
# Words a minute (for Chinese, syllables): a little slower than espeak-ng's 175 for English and French, numbers on a
# phone line; Chinese about four syllables a second.
SPEED = {EN: 150, FR: 150, ZH: 175}
SENTENCE_END = re.compile(r"[.!?。！？]\s*$")
PAUSE = {True: "0.35", False: "0.05"}  # seconds after a sentence, after a piece that others follow
# Trim leading and trailing silence (a sound under -45 dBFS), resample to 8 kHz (with sox's anti-aliasing filter),
# then set the peaks at -3 dBFS. -D: no dither, so a file is the same bytes every time it is made.
SOX_OUTPUT = ["-D", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]
SOX_EFFECTS = ["silence", "1", "0.01", "-45d", "reverse", "silence", "1", "0.01", "-45d", "reverse", "rate", "8000",
               "norm", "-3"]

SETTINGS = (f"espeak-ng {', '.join(f'{language} {speed}' for language, speed in SPEED.items())} words a minute; "
            f"sox {' '.join(SOX_OUTPUT + SOX_EFFECTS)}")

# Pieces espeak-ng's French reads as French ("cents" as cent, "pence" as panse), given in its phoneme notation; words
# it spells out that are said as words ("PIN", not P-I-N).
RESPELLED = {(FR, f"{code}.minor_{form}"): "[[s'Ent]]" for code in ("USD", "HKD") for form in ("one", "many")} | {
    (FR, "GBP.minor_many"): "[[p'Ens]]"}
SAID_AS = {EN: {"PIN": "pin"}, FR: {}}

LATIN = re.compile(r"[A-Za-z][A-Za-z'-]*(?:\s+[A-Za-z][A-Za-z'-]*)*")
FULL_WIDTH = str.maketrans("，。？！：；、（）", ",.?!:;,()")
# Words pypinyin reads otherwise than they are meant here: 重 is "again" in 重听 (not 重听 zhòngtīng, "hard of
# hearing") and 重试; 为 after an amount is "is" (wéi), not "for" (wèi).
load_phrases_dict({
    "重听": [["chóng"], ["tīng"]], "重试": [["chóng"], ["shì"]],
    "余额为": [["yú"], ["é"], ["wéi"]], "金额为": [["jīn"], ["é"], ["wéi"]],
})


def _texts() -> dict[str, dict[str, str]]:
    """The menu's sentences (voice/texts.py), or none while that module does not exist yet."""
    try:
        from simkeep.voice.texts import TEXTS
    except ModuleNotFoundError:
        return {}
    return dict(TEXTS)


@dataclass(frozen=True)
class Wanted:
    """One prompt file as the sources want it."""

    language: str
    name: str
    text: str

    @property
    def path(self) -> Path:
        return PROMPTS / self.language / f"{self.name}.wav"

    @property
    def spoken(self) -> list[tuple[str, str]]:
        """What espeak-ng is given: (voice, input) in order."""
        if self.language != ZH:
            text = re.sub(r"\b\w+\b", lambda word: SAID_AS[self.language].get(word.group(), word.group()), self.text)
            return [(VOICES[self.language], RESPELLED.get((self.language, self.name), text))]
        parts, start = [], 0
        for latin in LATIN.finditer(self.text):
            parts += [(VOICES[ZH], pinyin(self.text[start:latin.start()])), (VOICES[EN], latin.group())]
            start = latin.end()
        parts.append((VOICES[ZH], pinyin(self.text[start:])))
        return [(voice, said) for voice, said in parts if said.strip(" ,.?!:;")]

    @property
    def pause(self) -> str:
        return PAUSE[bool(SENTENCE_END.search(self.text))]

    @property
    def said(self) -> str:
        """How espeak-ng says it, as the manifest shows it: "cmn-latn-pinyin: nin2 de5 yu2 e2 wei2, pause 0.05 s"."""
        return " | ".join(f"{voice}: {text}" for voice, text in self.spoken) + f", pause {self.pause} s"

    def sha256(self, said: str) -> str:
        """What the file is made from: the text and how it is said (or that a person recorded it)."""
        made_with = "" if said == RECORDED else SETTINGS
        return hashlib.sha256("\n".join((self.language, self.name, self.text, made_with, said)).encode()).hexdigest()


def pinyin(text: str) -> str:
    """Chinese text as tone-numbered pinyin for espeak-ng: 您的余额为 -> "nin2 de5 yu2 e2 wei2"; a lone digit is said
    as a digit (按2: an4 er4), a longer number as a number (15位: shi2 wu3 wei4)."""
    text = re.sub(r"\d+", lambda m: PIECES[f"n{m.group()}"][ZH] if len(m.group()) == 1 else speech.words(
        speech.number(int(m.group()), ZH)), text)
    syllables = lazy_pinyin(text.translate(FULL_WIDTH), style=Style.TONE3, neutral_tone_with_five=True,
                            tone_sandhi=True)
    return re.sub(r"\s+([,.?!:;])", r"\1", " ".join(s.strip() for s in syllables if s.strip()))


def wanted() -> dict[tuple[str, str], Wanted]:
    """Every prompt the hotline can play: each piece and sentence in each language that says it."""
    texts = _texts()
    clash = sorted(PIECES.keys() & texts.keys())
    if clash:
        raise SystemExit(f"names both a piece and a sentence: {', '.join(clash)}")
    return {(language, name): Wanted(language, name, said[language]) for name, said in (PIECES | texts).items()
            for language in LANGUAGES if said[language]}


def load_manifest() -> dict[tuple[str, str], dict[str, str]]:
    if not MANIFEST.exists():
        return {}
    return {(e["language"], e["name"]): e for e in json.loads(MANIFEST.read_text("utf-8"))["prompts"]}


def save_manifest(entries: dict[tuple[str, str], dict[str, str]]) -> None:
    body = {"format": 1, "settings": SETTINGS, "prompts": [entries[key] for key in sorted(entries)]}
    MANIFEST.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", "utf-8")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def entry(prompt: Wanted, said: str) -> dict[str, str]:
    return {"language": prompt.language, "name": prompt.name, "text": prompt.text, "said": said,
            "sha256": prompt.sha256(said), "audio": file_sha256(prompt.path)}


def up_to_date(prompt: Wanted, made: dict[str, str] | None) -> bool:
    """The file is there, unchanged since it was made, from this text said this way (a recording: this text)."""
    if made is None or not prompt.path.exists() or file_sha256(prompt.path) != made["audio"]:
        return False
    return made["sha256"] == prompt.sha256(RECORDED if made["said"] == RECORDED else prompt.said)


def stale_files(keep: dict[tuple[str, str], Wanted]) -> list[Path]:
    """Files no piece or sentence asks for any more."""
    return sorted(path for path in PROMPTS.glob("*/*.wav") if (path.parent.name, path.stem) not in keep)


def problems() -> list[str]:
    """What --check reports: prompts missing, changed or not made by this script, and stale files."""
    want, made = wanted(), load_manifest()
    found = [f"{p.language}/{p.name}: {'missing' if not p.path.exists() else 'out of date'} ({p.text!r})"
             for key, p in sorted(want.items()) if not up_to_date(p, made.get(key))]
    found += [f"{path.relative_to(PROMPTS)}: stale" for path in stale_files(want)]
    found += [f"{language}/{name}: in the manifest, not wanted" for language, name in sorted(made.keys() - want.keys())]
    return found


def run(command: list[str], *, stdin: str | None = None) -> None:
    subprocess.run(command, input=stdin, text=stdin is not None, check=True, capture_output=True)


def record(prompt: Wanted) -> None:
    """espeak-ng says each part (22,050 Hz), sox joins them, trims, normalises and writes 8 kHz."""
    prompt.path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        parts = []
        for index, (voice, said) in enumerate(prompt.spoken):
            part = f"{tmp}/{index}.wav"
            run(["espeak-ng", "-v", voice, "-s", str(SPEED[prompt.language]), "-b", "1", "--stdin", "-w", part],
                stdin=said)
            parts.append(part)
        run(["sox", *parts, *SOX_OUTPUT, str(prompt.path), *SOX_EFFECTS, "pad", "0", prompt.pause])


def regenerate() -> None:
    want, made = wanted(), load_manifest()
    todo = [p for key, p in sorted(want.items()) if not up_to_date(p, made.get(key))]
    for p in todo:
        if made.get((p.language, p.name), {}).get("said") == RECORDED:
            print(f"{p.language}/{p.name}: the text changed, so espeak-ng replaces the person's recording: record "
                  f"{p.text!r} again", file=sys.stderr)
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(record, todo))
    for path in stale_files(want):
        path.unlink()
    entries = {key: made[key] for key in want.keys() & made.keys()}
    entries |= {(p.language, p.name): entry(p, p.said) for p in todo}
    save_manifest(entries)
    size = sum(path.stat().st_size for path in PROMPTS.glob("*/*.wav"))
    print(f"{len(todo)} recorded, {len(want)} prompts, {size / 1e6:.1f} MB")


def replace_by_recordings(language: str, sources: list[Path]) -> None:
    """A person's recordings (any format sox reads, each file named after its prompt: n21.wav, welcome.flac) become
    the prompts, processed like espeak-ng's; the manifest keeps them until their text changes."""
    want = wanted()
    unknown = [source.name for source in sources if (language, source.stem) not in want]
    if unknown:
        raise SystemExit(f"no {language} prompt for {', '.join(unknown)} (see --list {language})")
    entries = load_manifest()
    for source in sources:
        prompt = want[(language, source.stem)]
        run(["sox", str(source), *SOX_OUTPUT, str(prompt.path), *SOX_EFFECTS, "pad", "0", prompt.pause])
        entries[(language, prompt.name)] = entry(prompt, RECORDED)
        print(f"{language}/{prompt.name} is now the recording of {prompt.text!r}")
    save_manifest(entries)


def listing(language: str) -> str:
    """What a voice talent records for a language: one prompt a line, its file name and its text, and whether a person
    has recorded it already."""
    made = load_manifest()
    return "\n".join(f"{p.name}.wav\t{p.text}" + ("\t(recorded)" if made.get(key, {}).get("said") == RECORDED else "")
                     for key, p in sorted(wanted().items()) if p.language == language)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help="report what is missing or stale; change nothing")
    action.add_argument("--list", metavar="LANGUAGE", choices=LANGUAGES, help="each prompt's file name and text")
    action.add_argument("--record", nargs="+", metavar=("LANGUAGE", "FILE"),
                        help="replace prompts by a person's recordings, each file named after its prompt")
    args = parser.parse_args()
    if args.check:
        found = problems()
        print("\n".join(found) or "every prompt is recorded and up to date")
        raise SystemExit(1 if found else 0)
    if args.list:
        print(listing(args.list))
    elif args.record:
        language, *sources = args.record
        if language not in LANGUAGES or not sources:
            parser.error(f"--record LANGUAGE FILE...: LANGUAGE is one of {', '.join(LANGUAGES)}")
        replace_by_recordings(language, [Path(source) for source in sources])
    else:
        regenerate()


if __name__ == "__main__":
    main()
