"""The menu's sentences: in every language, spaced and punctuated as each language writes, never clashing with the
number and date pieces they share a folder with, and each one said somewhere in the menu."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from simkeep.core.money import Money
from simkeep.voice import menu, speech
from simkeep.voice.flow import Prompt
from simkeep.voice.texts import TEXTS, say
from tests.locale.typography import problems

# Sentences only Chinese needs (the word after a date: 三月十二日之后被回收。)
CHINESE_ONLY = {"validity_ended_end", "number_kept_until_end"}


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_every_sentence_in_every_language_spaced_as_the_language_writes_it(name):
    texts = TEXTS[name]
    assert set(texts) == set(speech.LANGUAGES)
    for language, text in texts.items():
        if name in CHINESE_ONLY and language != speech.ZH:
            assert text == ""
            continue
        assert text, (name, language)
        assert problems(text, language) == [], (name, language)


def test_sentence_names_never_clash_with_the_pieces_and_are_file_names():
    assert set(TEXTS).isdisjoint(speech.PIECES)
    assert all(re.fullmatch(r"[a-z_]+", name) for name in TEXTS)


def test_every_sentence_is_said_by_the_menu():
    source = Path(menu.__file__).read_text("utf-8")
    unsaid = [name for name in TEXTS if f'"{name}"' not in source and not name.startswith("choose_")]
    assert unsaid == []


def test_a_sentence_a_language_does_not_need_is_not_played_and_speech_words_says_sentences_and_pieces():
    assert say(speech.FR, "number_kept_until", "number_kept_until_end") == (Prompt("fr", "number_kept_until"),)
    assert speech.words(say(speech.FR, "balance_is") + speech.amount(Money(1050, "EUR"), speech.FR)) == (
        "Votre solde est de dix euros cinquante")
    assert speech.words(say(speech.ZH, "valid_until") + speech.day(date(2027, 3, 12), speech.ZH,
                                                                   today=date(2027, 3, 1))) == "您的号码有效期至三月十二日"
