"""The recorded prompts: every piece and sentence has its file, made from its current text, in the format a phone
line carries; the loader turns them into G.711 μ-law; the script that makes them finds what is missing or stale."""

import importlib.util
import json
import shutil
import sys
import wave
from array import array
from datetime import date
from pathlib import Path

import pytest

from simkeep.voice import g711, prompts, speech
from simkeep.voice.flow import Prompt
from simkeep.voice.speech import EN, FR, PIECES, ZH

ROOT = Path(__file__).resolve().parents[2]


def _script():
    """scripts/voice_prompts.py, imported as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("voice_prompts", ROOT / "scripts" / "voice_prompts.py")
    assert spec and spec.loader
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


script = _script()


def pcm(*samples: int) -> bytes:
    """Samples as a WAV file holds them: signed 16-bit little-endian."""
    data = array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    return data.tobytes()


def recorded(prompt: Prompt) -> array:
    with wave.open(str(prompts.path(prompt)), "rb") as recording:
        samples = array("h", recording.readframes(recording.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def ulaw_decode(code: int) -> int:
    """G.711's μ-law expansion, as in its tables (16-bit scale): the middle of the step a code stands for."""
    code = ~code & 0xFF
    segment, step = (code >> 4) & 0x07, code & 0x0F
    magnitude = (((step << 3) + 0x84) << segment) - 0x84
    return -magnitude if code & 0x80 else magnitude


# -- G.711 μ-law -----------------------------------------------------------------------------------------------------

def test_mu_law_codes_are_g711s():
    samples = (0, 1, 3, 4, -1, -4, -5, 31, -32, 100, -100, 132, 1000, 4000, 8000, 16000, 32124, 32767, -32124, -32768)
    codes = [0xFF, 0xFF, 0xFF, 0xFE, 0x7E, 0x7E, 0x7E, 0xFB, 0x7B, 0xF2, 0x72, 0xEF, 0xCE, 0xAF, 0xA0, 0x90, 0x80, 0x80,
             0x00, 0x00]
    assert list(g711.ulaw(pcm(*samples))) == codes
    assert g711.SILENCE == 0xFF


def test_every_sample_gets_the_code_of_the_step_it_falls_in():
    everything = range(-32768, 32768)
    codes = g711.ulaw(pcm(*everything))
    assert len(codes) == 65536
    decoded = [ulaw_decode(code) for code in codes]
    assert decoded == sorted(decoded)  # louder samples never get a quieter code
    assert len(set(codes)) == 255  # every code but 0x7F (minus zero, which G.711's encoder never makes)
    for sample, code in zip(everything, codes, strict=True):
        if abs(sample) <= 32124:
            segment = ((~code & 0xFF) >> 4) & 0x07
            assert abs(ulaw_decode(code) - sample) <= 8 << segment, sample  # within one step


# -- the files -------------------------------------------------------------------------------------------------------

def test_every_piece_and_sentence_is_recorded_from_its_current_text_and_nothing_else_is():
    assert script.problems() == []
    files = {(path.parent.name, path.stem) for path in prompts.FOLDER.glob("*/*.wav")}
    assert files == set(script.wanted())
    assert (ZH, "liang") in files and (EN, "liang") not in files  # an empty text has no file
    assert {(FR, "n21"), (EN, "n21"), (ZH, "n21"), (FR, "n21_feminine"), (ZH, "month3"), (ZH, "day12")} <= files


def test_every_recording_is_8_khz_mono_16_bit_trimmed_and_at_a_telephone_level():
    for path in sorted(prompts.FOLDER.glob("*/*.wav")):
        with wave.open(str(path), "rb") as recording:
            assert (recording.getframerate(), recording.getnchannels(), recording.getsampwidth()) == (8000, 1, 2), path
        samples = recorded(Prompt(path.parent.name, path.stem))
        assert 0.15 < len(samples) / 8000 < 9, path  # a caller waits through a long sentence: split it
        peak = max(abs(s) for s in samples)
        assert 0.65 < peak / 32768 < 0.72, path  # normalised to -3 dBFS: room before μ-law's top, and even levels
        assert max(abs(s) for s in samples[:160]) > 180, path  # speech within the first 20 ms: leading silence cut


def test_a_recording_lasts_as_long_as_its_text_takes_to_say():
    """A voice that spelled its input out (pinyin read letter by letter), or said nothing of it, fails here: Chinese
    takes 0.17–0.37 s a syllable, English and French 0.05–0.16 s a letter."""
    for prompt in script.wanted().values():
        with wave.open(str(prompt.path), "rb") as recording:
            speaking = recording.getnframes() / 8000 - float(prompt.pause)
        if prompt.language == ZH:
            syllables = [s for voice, said in prompt.spoken for s in said.split() if voice == "cmn-latn-pinyin"]
            units = sum(s.rstrip(",.?!:;")[-1:].isdigit() for s in syllables) + sum(
                2 for voice, _ in prompt.spoken if voice != "cmn-latn-pinyin")  # "simkeep": two syllables
            assert 0.12 < speaking / units < 0.5, prompt
        else:
            letters = sum(c.isalpha() for c in prompt.text)
            assert 0.03 < speaking / letters < 0.25, prompt


def test_a_sentence_leaves_a_pause_after_it_and_a_piece_a_short_one():
    def pause_after(prompt: Prompt) -> float:
        samples = recorded(prompt)
        return (len(samples) - max(i for i, s in enumerate(samples) if abs(s) > 180)) / 8000

    assert [script.Wanted(EN, "bye", "Goodbye.").pause, script.Wanted(ZH, "bye", "再见。").pause] == ["0.35", "0.35"]
    assert script.Wanted(FR, "balance_is", "Votre solde est de").pause == "0.05"
    assert all(0.05 <= pause_after(Prompt(language, "n21")) < 0.07 for language in (EN, FR, ZH))


# -- the loader ------------------------------------------------------------------------------------------------------

def test_a_prompt_is_its_recording_in_mu_law_read_once():
    prompt = Prompt(FR, "n21")
    with wave.open(str(prompts.path(prompt)), "rb") as recording:
        frames = recording.readframes(recording.getnframes())
    assert prompts.path(prompt) == ROOT / "src/simkeep/voice/prompts/fr/n21.wav"
    assert prompts.audio(prompt) == g711.ulaw(frames)
    assert prompts.audio(prompt) is prompts.audio(prompt)  # cached


def test_duration_adds_up_the_pieces():
    pieces = speech.day(date(2027, 3, 12), ZH, today=date(2026, 11, 30))
    lengths = [len(prompts.audio(p)) for p in pieces]
    assert len(pieces) == 7 and all(lengths)
    assert prompts.duration(pieces) == sum(lengths) / 8000
    assert prompts.duration(()) == 0


@pytest.mark.parametrize(("prompt", "why"), [
    (Prompt(FR, "no_such_prompt"), "prompt fr/no_such_prompt: no recording (run `make prompts`)"),
    (Prompt(EN, "liang"), "prompt en/liang: no recording (run `make prompts`)"),
    (Prompt(FR, "../en/n1"), "prompt fr/../en/n1: not a prompt name (run `make prompts`)"),
    (Prompt("de", "n1"), "prompt de/n1: not a prompt name (run `make prompts`)"),
])
def test_a_missing_prompt_says_which_and_why(prompt, why):
    with pytest.raises(prompts.MissingPrompt) as raised:
        prompts.audio(prompt)
    assert str(raised.value) == why


def test_a_recording_in_another_format_is_refused(tmp_path, monkeypatch):
    (tmp_path / FR).mkdir()
    with wave.open(str(tmp_path / FR / "wide_band.wav"), "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(16000)
        recording.writeframes(pcm(0, 100, -100))
    (tmp_path / FR / "not_audio.wav").write_bytes(b"RIFF, but not really")
    monkeypatch.setattr(prompts, "FOLDER", tmp_path)
    with pytest.raises(prompts.MissingPrompt, match=r"fr/wide_band: 16000 Hz, 1 channel\(s\), 16-bit: not 8 kHz"):
        prompts.audio(Prompt(FR, "wide_band"))
    with pytest.raises(prompts.MissingPrompt, match="fr/not_audio: not a PCM WAV file"):
        prompts.audio(Prompt(FR, "not_audio"))


# -- the script ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "pinyin"), [
    ("您的余额为", "nin2 de5 yu2 e2 wei2"),
    ("三月十二日", "san1 yue4 shi2 er4 ri4"),
    ("查询余额，请按1。", "cha2 xun2 yu2 e2, qing3 an4 yi1."),
    ("请按2", "qing3 an4 er4"),  # a key is a digit: 二, not the count 两
    ("请输入15位密码", "qing3 shu1 ru4 shi2 wu3 wei4 mi4 ma3"),
    ("重听，请按8。", "chong2 ting1, qing3 an4 ba1."),  # hear again, not "hard of hearing" (zhòngtīng)
    ("请重试", "qing3 chong2 shi4"),
    ("充值金额为", "chong1 zhi2 jin1 e2 wei2"),
    ("你好", "ni2 hao3"),  # tone sandhi: two third tones
])
def test_chinese_is_said_as_tone_numbered_pinyin(text, pinyin):
    assert script.pinyin(text) == pinyin


def test_latin_words_in_chinese_are_said_by_the_english_voice():
    assert script.Wanted(ZH, "welcome", "欢迎致电simkeep。").spoken == [
        ("cmn-latn-pinyin", "huan1 ying2 zhi4 dian4"), ("en-us", "simkeep")]
    assert script.Wanted(FR, "welcome", "Bienvenue chez simkeep.").spoken == [("fr", "Bienvenue chez simkeep.")]


def test_words_espeak_would_misread_are_respelled():
    assert script.wanted()[(FR, "USD.minor_many")].spoken == [("fr", "[[s'Ent]]")]  # cents, not "cent"
    assert script.wanted()[(FR, "hundred")].spoken == [("fr", "cent")]
    assert script.Wanted(EN, "pin", "Check the PIN. PINs.").spoken == [("en-us", "Check the pin. PINs.")]


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """The prompts folder copied, and the script pointed at the copy."""
    folder = tmp_path / "prompts"
    shutil.copytree(prompts.FOLDER, folder)
    monkeypatch.setattr(script, "PROMPTS", folder)
    monkeypatch.setattr(script, "MANIFEST", folder / "manifest.json")
    return folder


def test_check_finds_missing_changed_stale_and_edited_files(copy, monkeypatch):
    (copy / FR / "n21.wav").unlink()
    (copy / EN / "old_greeting.wav").write_bytes(b"")
    with (copy / ZH / "n7.wav").open("ab") as edited:
        edited.write(b"\0\0")  # changed by hand, not through --record
    monkeypatch.setattr(script, "PIECES", PIECES | {"n8": PIECES["n8"] | {EN: "eight!"}})
    assert script.problems() == [
        "en/n8: out of date ('eight!')",
        "fr/n21: missing ('vingt-et-un')",
        "zh_CN/n7: out of date ('七')",
        "en/old_greeting.wav: stale",
    ]


def test_check_finds_a_text_gone_from_the_sources(copy, monkeypatch):
    monkeypatch.setattr(script, "PIECES", {name: said for name, said in PIECES.items() if name != "jiao"})
    assert script.problems() == ["zh_CN/jiao.wav: stale", "zh_CN/jiao: in the manifest, not wanted"]


def test_the_manifest_says_what_each_file_is_made_from():
    manifest = json.loads((prompts.FOLDER / "manifest.json").read_text("utf-8"))
    by_key = {(e["language"], e["name"]): e for e in manifest["prompts"]}
    assert manifest["settings"] == script.SETTINGS
    assert by_key[(ZH, "day12")] | {"sha256": "", "audio": ""} == {
        "language": ZH, "name": "day12", "text": "十二日", "said": "cmn-latn-pinyin: shi2 er4 ri4, pause 0.05 s",
        "sha256": "", "audio": ""}
    assert by_key[(FR, "n21")]["said"] == "fr: vingt-et-un, pause 0.05 s"


def test_a_persons_recordings_replace_prompts_and_stay_until_their_text_changes(copy, monkeypatch, tmp_path, capsys):
    studio = tmp_path / "studio"
    studio.mkdir()
    with wave.open(str(studio / "n21.wav"), "wb") as take:
        take.setnchannels(1)
        take.setsampwidth(2)
        take.setframerate(8000)
        take.writeframes(pcm(*range(-2000, 2000)))

    def sox(command: list[str], *, stdin: str | None = None) -> None:
        """Stands for sox (the tests do not install it): the take as it is."""
        assert command[0] == "sox" and stdin is None
        shutil.copyfile(command[1], command[2 + len(script.SOX_OUTPUT)])

    espeak = []
    monkeypatch.setattr(script, "run", sox)
    monkeypatch.setattr(script, "record", lambda prompt: (espeak.append(prompt.name), prompt.path.write_bytes(b"")))

    script.replace_by_recordings(FR, [studio / "n21.wav"])
    assert (copy / FR / "n21.wav").read_bytes() == (studio / "n21.wav").read_bytes()
    assert script.problems() == [] and "n21.wav\tvingt-et-un\t(recorded)" in script.listing(FR).splitlines()
    script.regenerate()
    assert espeak == [] and (copy / FR / "n21.wav").read_bytes() == (studio / "n21.wav").read_bytes()

    monkeypatch.setattr(script, "PIECES", PIECES | {"n21": PIECES["n21"] | {FR: "vingt et un"}})
    script.regenerate()
    assert espeak == ["n21"] and (copy / FR / "n21.wav").read_bytes() == b""
    assert "fr/n21: the text changed, so espeak-ng replaces the person's recording" in capsys.readouterr().err
    assert "n21.wav\tvingt et un" in script.listing(FR).splitlines()


def test_a_recording_for_no_prompt_changes_nothing(copy):
    manifest = (copy / "manifest.json").read_bytes()
    with pytest.raises(SystemExit) as refused:
        script.replace_by_recordings(FR, [Path("liang.wav"), Path("n21.flac"), Path("nineteen.flac")])
    assert str(refused.value) == "no fr prompt for liang.wav, nineteen.flac (see --list fr)"
    assert (copy / "manifest.json").read_bytes() == manifest
