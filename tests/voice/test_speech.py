"""Numbers, amounts and dates as a caller hears them in each language: the exact words the pieces say."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simkeep.core.money import Money
from simkeep.voice import speech
from simkeep.voice.speech import EN, FR, LANGUAGES, PIECES, ZH

TODAY = date(2026, 11, 30)


def said(pieces) -> str:
    """What the pieces say; Chinese written as it is read, without the spaces between pieces."""
    words = speech.words(pieces)
    return words.replace(" ", "") if pieces and pieces[0].language == ZH else words


@pytest.mark.parametrize(("n", "en", "fr", "zh"), [
    (0, "zero", "zéro", "零"),
    (1, "one", "un", "一"),
    (2, "two", "deux", "两"),  # Chinese counts with 两: 两欧元, 两天
    (12, "twelve", "douze", "十二"),
    (21, "twenty-one", "vingt-et-un", "二十一"),
    (71, "seventy-one", "soixante-et-onze", "七十一"),
    (77, "seventy-seven", "soixante-dix-sept", "七十七"),
    (80, "eighty", "quatre-vingts", "八十"),
    (81, "eighty-one", "quatre-vingt-un", "八十一"),
    (91, "ninety-one", "quatre-vingt-onze", "九十一"),
    (99, "ninety-nine", "quatre-vingt-dix-neuf", "九十九"),
    (100, "one hundred", "cent", "一百"),
    (101, "one hundred one", "cent un", "一百零一"),
    (110, "one hundred ten", "cent dix", "一百一十"),
    (180, "one hundred eighty", "cent quatre-vingts", "一百八十"),
    (200, "two hundred", "deux cents", "两百"),
    (201, "two hundred one", "deux cent un", "两百零一"),
    (1000, "one thousand", "mille", "一千"),
    (1005, "one thousand five", "mille cinq", "一千零五"),
    (1200, "one thousand two hundred", "mille deux cents", "一千二百"),
    (2027, "two thousand twenty-seven", "deux mille vingt-sept", "两千零二十七"),
    (10_010, "ten thousand ten", "dix mille dix", "一万零一十"),
    (12_000, "twelve thousand", "douze mille", "一万两千"),
    (21_000, "twenty-one thousand", "vingt-et-un mille", "两万一千"),
    (30_200, "thirty thousand two hundred", "trente mille deux cents", "三万零二百"),
    (80_000, "eighty thousand", "quatre-vingt mille", "八万"),
    (200_000, "two hundred thousand", "deux cent mille", "二十万"),
    (1_000_000, "one million", "un million", "一百万"),
    (2_500_000, "two million five hundred thousand", "deux millions cinq cent mille", "两百五十万"),
    (99_999_999, "ninety-nine million nine hundred ninety-nine thousand nine hundred ninety-nine",
     "quatre-vingt-dix-neuf millions neuf cent quatre-vingt-dix-neuf mille neuf cent quatre-vingt-dix-neuf",
     "九千九百九十九万九千九百九十九"),
])
def test_numbers(n, en, fr, zh):
    assert [said(speech.number(n, language)) for language in (EN, FR, ZH)] == [en, fr, zh]


@pytest.mark.parametrize("n", [-1, 100_000_000])
def test_a_number_out_of_range_is_refused(n):
    with pytest.raises(ValueError, match="not a number the hotline speaks"):
        speech.number(n, EN)


@pytest.mark.parametrize(("minor", "currency", "en", "fr", "zh"), [
    (1000, "EUR", "ten euros", "dix euros", "十欧元"),
    (1050, "EUR", "ten euros and fifty cents", "dix euros cinquante", "十欧元五十欧分"),
    (50, "EUR", "fifty cents", "cinquante centimes", "五十欧分"),
    (101, "EUR", "one euro and one cent", "un euro un", "一欧元一欧分"),
    (200, "EUR", "two euros", "deux euros", "两欧元"),
    (0, "EUR", "zero euros", "zéro euro", "零欧元"),
    (100, "GBP", "one pound", "une livre", "一英镑"),
    (2150, "GBP", "twenty-one pounds and fifty pence", "vingt-et-une livres cinquante", "二十一英镑五十便士"),
    (1, "GBP", "one penny", "un penny", "一便士"),
    (1055, "CNY", "ten yuan and fifty-five fen", "dix yuans cinquante-cinq", "十元五角五分"),
    (1005, "CNY", "ten yuan and five fen", "dix yuans cinq", "十元零五分"),
    (5, "CNY", "five fen", "cinq fens", "五分"),
    (220, "CNY", "two yuan and twenty fen", "deux yuans vingt", "两元两角"),
    (880, "HKD", "eight Hong Kong dollars and eighty cents", "huit dollars de Hong Kong quatre-vingts", "八港元八十港仙"),
    (-1000, "USD", "ten dollars", "dix dollars", "十美元"),  # a debt is said by the sentence around it
])
def test_amounts(minor, currency, en, fr, zh):
    money = Money(minor, currency)
    assert [said(speech.amount(money, language)) for language in (EN, FR, ZH)] == [en, fr, zh]


def test_an_amount_in_a_currency_without_words_is_refused():
    with pytest.raises(ValueError, match="no words for JPY"):
        speech.amount(Money(1000, "JPY"), EN)


@pytest.mark.parametrize(("when", "en", "fr", "zh"), [
    (date(2026, 3, 12), "March twelfth", "le douze mars", "三月十二日"),
    (date(2026, 3, 1), "March first", "le premier mars", "三月一日"),
    (date(2026, 11, 2), "November second", "le deux novembre", "十一月二日"),
    (date(2026, 11, 20), "November twentieth", "le vingt novembre", "十一月二十日"),
    (date(2026, 12, 21), "December twenty-first", "le vingt-et-un décembre", "十二月二十一日"),
    (date(2026, 8, 11), "August eleventh", "le onze août", "八月十一日"),
    (date(2026, 12, 31), "December thirty-first", "le trente-et-un décembre", "十二月三十一日"),
    (date(2027, 3, 12), "March twelfth twenty twenty-seven", "le douze mars deux mille vingt-sept",
     "二零二七年三月十二日"),
    (date(2027, 1, 1), "January first twenty twenty-seven", "le premier janvier deux mille vingt-sept",
     "二零二七年一月一日"),
    (date(2025, 10, 30), "October thirtieth twenty twenty-five", "le trente octobre deux mille vingt-cinq",
     "二零二五年十月三十日"),
    (date(2030, 5, 2), "May second twenty thirty", "le deux mai deux mille trente", "二零三零年五月二日"),
])
def test_dates_say_the_year_only_when_it_is_not_this_one(when, en, fr, zh):
    assert [said(speech.day(when, language, today=TODAY)) for language in (EN, FR, ZH)] == [en, fr, zh]


@pytest.mark.parametrize(("n", "en", "fr", "zh"), [
    (1, "one day", "un jour", "一天"),
    (2, "two days", "deux jours", "两天"),
    (12, "twelve days", "douze jours", "十二天"),
    (0, "zero days", "zéro jour", "零天"),
])
def test_day_counts(n, en, fr, zh):
    assert [said(speech.days(n, language)) for language in (EN, FR, ZH)] == [en, fr, zh]


def test_phone_numbers_and_codes_are_read_digit_by_digit():
    assert said(speech.digits("+33 612", EN)) == "three three six one two"
    assert said(speech.digits("2020", FR)) == "deux zéro deux zéro"
    assert said(speech.digits("2020", ZH)) == "二零二零"  # a digit, not a count: 二, never 两


def test_every_piece_is_a_prompt_and_says_something_in_each_language_that_uses_it():
    said = [p for language in LANGUAGES for n in (0, 2, 21, 71, 81, 1005, 80_000, 2_500_000)
            for p in speech.number(n, language)]
    said += [p for language in LANGUAGES for minor, currency in ((2150, "GBP"), (1005, "CNY"), (1, "HKD"))
             for p in speech.amount(Money(minor, currency), language)]
    assert all(PIECES[p.name][p.language] for p in said)
    assert all(set(texts) == {EN, FR, ZH} for texts in PIECES.values())
    # The Chinese counting 两 and the French feminine and invariable forms are said in their language only.
    assert {language for language in LANGUAGES if PIECES["liang"][language]} == {ZH}
    assert {name for name, texts in PIECES.items() if texts[FR] and not texts[EN] and not texts[ZH]} == {
        "hundreds", "millions", "n80_before_mille", "the", "n1_feminine", "n21_feminine", "n31_feminine",
        "n41_feminine", "n51_feminine", "n61_feminine", "n81_feminine"}


@given(st.integers(min_value=0, max_value=99_999_999))
def test_any_number_is_said_with_recorded_pieces_and_by_the_rules(n):
    en, fr, zh = (speech.number(n, language) for language in (EN, FR, ZH))
    assert all(PIECES[p.name][p.language] for p in (*en, *fr, *zh))
    zh_said, fr_said = said(zh), said(fr)
    assert "零零" not in zh_said and not zh_said.startswith("一十") and (n == 0 or not zh_said.endswith("零"))
    assert all(i == 0 or zh_said[i - 1] == "万" for i, c in enumerate(zh_said) if c == "两")  # 两 leads, 二 elsewhere
    assert not any(f"{word} mille" in fr_said for word in ("cents", "quatre-vingts"))
    assert not fr_said.startswith(("un mille", "un cent")) and "  " not in said(en) + fr_said
    # Read back: each Chinese piece's digits give the number (零 is a placeholder, 十 alone means 10).
    assert _zh_value(zh_said) == n


def _zh_value(text: str) -> int:
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
    total, section, digit = 0, 0, None
    for c in text:
        if c in digits:
            digit = digits[c]
        elif c == "万":
            total, section, digit = (section + (digit or 0)) * 10_000, 0, None
        else:
            section += (1 if digit is None else digit) * {"十": 10, "百": 100, "千": 1000}[c]
            digit = None
    return total + section + (digit or 0)
