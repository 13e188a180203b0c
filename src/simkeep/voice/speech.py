"""Numbers, amounts and dates spoken naturally from small recorded pieces ("le douze mars", "三月十二日", "ten euros").

Each function returns the pieces to play in order; `PIECES` holds every piece's text in each language, which the
prompt script (scripts/voice_prompts.py) records. Whole numbers 0–99 are one piece each (their prosody is the
language's own: "soixante-dix-sept", "二十一"); larger ones are assembled from them and "hundred" / "thousand".
"""

from __future__ import annotations

from datetime import date

from simkeep.core.money import Money, minor_digits
from simkeep.voice.flow import Prompt

EN, FR, ZH = "en", "fr", "zh_CN"


def _listed(words: str) -> list[str]:
    return words.split()


LANGUAGES = (ZH, FR, EN)  # in the order the hotline offers them (1 中文, 2 Français, 3 English)

_EN_ONES = _listed("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
                   "seventeen eighteen nineteen")
_EN_TENS = _listed("_ _ twenty thirty forty fifty sixty seventy eighty ninety")
_EN_ORDINALS = _listed("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
                       "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth")
_EN_ORDINAL_TENS = {20: "twentieth", 30: "thirtieth"}
_FR_ONES = _listed("zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize dix-sept "
                   "dix-huit dix-neuf")
_FR_TENS = _listed("_ _ vingt trente quarante cinquante soixante")
_FR_FEMININE = (1, 21, 31, 41, 51, 61, 81)  # said "une" before a feminine noun: "vingt-et-une livres"
_ZH_DIGITS = "零一二三四五六七八九"
_MONTHS = {
    EN: _listed("January February March April May June July August September October November December"),
    FR: _listed("janvier février mars avril mai juin juillet août septembre octobre novembre décembre"),
    ZH: [f"{_ZH_DIGITS[m] if m < 10 else '十' + _ZH_DIGITS[m - 10].replace('零', '')}月" for m in range(1, 13)],
}
# Per currency: (major one, major many, minor one, minor many) in each language.
_CURRENCIES = {
    "EUR": {EN: ("euro", "euros", "cent", "cents"), FR: ("euro", "euros", "centime", "centimes"),
            ZH: ("欧元", "欧元", "欧分", "欧分")},
    "GBP": {EN: ("pound", "pounds", "penny", "pence"), FR: ("livre", "livres", "penny", "pence"),
            ZH: ("英镑", "英镑", "便士", "便士")},
    "USD": {EN: ("dollar", "dollars", "cent", "cents"), FR: ("dollar", "dollars", "cent", "cents"),
            ZH: ("美元", "美元", "美分", "美分")},
    "HKD": {EN: ("Hong Kong dollar", "Hong Kong dollars", "cent", "cents"),
            FR: ("dollar de Hong Kong", "dollars de Hong Kong", "cent", "cents"), ZH: ("港元", "港元", "港仙", "港仙")},
    "CNY": {EN: ("yuan", "yuan", "fen", "fen"), FR: ("yuan", "yuans", "fen", "fens"), ZH: ("元", "元", "分", "分")},
}


def _en_number(n: int) -> str:
    return _EN_ONES[n] if n < 20 else _EN_TENS[n // 10] + (f"-{_EN_ONES[n % 10]}" if n % 10 else "")


def _fr_number(n: int) -> str:
    if n < 20:
        return _FR_ONES[n]
    tens, unit = divmod(n, 10)
    if tens in (7, 9):  # soixante-dix, quatre-vingt-dix: the base counts by twenty
        base, unit = ("soixante" if tens == 7 else "quatre-vingt"), unit + 10
        return f"{base}-et-onze" if n == 71 else f"{base}-{_FR_ONES[unit]}"
    base = "quatre-vingt" if tens == 8 else _FR_TENS[tens]
    if unit == 0:
        return "quatre-vingts" if tens == 8 else base
    return f"{base}-et-un" if unit == 1 and tens != 8 else f"{base}-{_FR_ONES[unit]}"


def _zh_number(n: int) -> str:
    if n < 10:
        return _ZH_DIGITS[n]
    tens, unit = divmod(n, 10)
    return ("" if tens == 1 else _ZH_DIGITS[tens]) + "十" + (_ZH_DIGITS[unit] if unit else "")


def _en_ordinal(day: int) -> str:
    if day < 20:
        return _EN_ORDINALS[day - 1]
    tens, unit = divmod(day, 10)
    return _EN_ORDINAL_TENS[day] if unit == 0 else f"{_EN_TENS[tens]}-{_EN_ORDINALS[unit - 1]}"


def _pieces() -> dict[str, dict[str, str]]:
    pieces: dict[str, dict[str, str]] = {
        f"n{n}": {EN: _en_number(n), FR: _fr_number(n), ZH: _zh_number(n)} for n in range(100)}
    pieces |= {f"day{d}": {EN: _en_ordinal(d), FR: "premier" if d == 1 else _fr_number(d), ZH: f"{_zh_number(d)}日"}
               for d in range(1, 32)}
    pieces |= {f"month{m}": {lang: names[m - 1] for lang, names in _MONTHS.items()} for m in range(1, 13)}
    for code, words in _CURRENCIES.items():
        for index, part in enumerate(("major_one", "major_many", "minor_one", "minor_many")):
            pieces[f"{code}.{part}"] = {lang: forms[index] for lang, forms in words.items()}
    pieces |= {f"n{n}_feminine": {EN: "", FR: _fr_number(n)[:-2] + "une", ZH: ""} for n in _FR_FEMININE}  # une livre
    pieces |= {  # a language that never says a piece has "" for it (no file)
        "hundred": {EN: "hundred", FR: "cent", ZH: "百"},
        "hundreds": {EN: "", FR: "cents", ZH: ""},  # French "deux cents", when nothing follows
        "thousand": {EN: "thousand", FR: "mille", ZH: "千"},
        "ten_thousand": {EN: "", FR: "", ZH: "万"},
        "million": {EN: "million", FR: "million", ZH: ""},
        "millions": {EN: "", FR: "millions", ZH: ""},
        "n80_before_mille": {EN: "", FR: "quatre-vingt", ZH: ""},  # "quatre-vingt mille"
        "liang": {EN: "", FR: "", ZH: "两"},  # 2 before what it counts: 两欧元, 两天, 两百
        "and": {EN: "and", FR: "", ZH: ""},
        "jiao": {EN: "", FR: "", ZH: "角"},
        "the": {EN: "", FR: "le", ZH: ""},
        "year": {EN: "", FR: "", ZH: "年"},
        "day": {EN: "day", FR: "jour", ZH: "天"},
        "days": {EN: "days", FR: "jours", ZH: "天"},
    }
    return pieces


PIECES = _pieces()


def _say(language: str, *names: str) -> tuple[Prompt, ...]:
    return tuple(Prompt(language, name) for name in names if PIECES[name][language])


def number(n: int, language: str) -> tuple[Prompt, ...]:
    """A whole number from 0 to 99,999,999, as it is said before what it counts (in Chinese 两欧元, 两百, 两万)."""
    if not 0 <= n < 100_000_000:
        raise ValueError(f"{n} is not a number the hotline speaks")
    if language == ZH:
        return _zh(n)
    if n < 100:
        return _say(language, f"n{n}")
    if n >= 1_000_000:
        millions, rest = divmod(n, 1_000_000)
        head = number(millions, language) + _say(language, "millions" if language == FR and millions > 1 else "million")
    elif n >= 1000:
        thousands, rest = divmod(n, 1000)
        if language == FR:
            head = _say(FR, "thousand") if thousands == 1 else _fr_before_mille(number(thousands, FR)) + _say(
                FR, "thousand")
        else:
            head = number(thousands, EN) + _say(EN, "thousand")
    else:
        hundreds, rest = divmod(n, 100)
        if language == FR:
            head = _say(FR, "hundred") if hundreds == 1 else _say(FR, f"n{hundreds}", "hundreds" if not rest else "hundred")
        else:
            head = _say(EN, f"n{hundreds}", "hundred")
    return head + (number(rest, language) if rest else ())


def _fr_before_mille(said: tuple[Prompt, ...]) -> tuple[Prompt, ...]:
    """"Mille" is invariable, and so are "cent" and "quatre-vingt" before it: "deux cent mille", "quatre-vingt mille"."""
    bare = {"hundreds": "hundred", "n80": "n80_before_mille"}.get(said[-1].name)
    return said[:-1] + _say(FR, bare) if bare else said


def _zh(n: int) -> tuple[Prompt, ...]:
    """Chinese: 一百零五, 一千零五十, 一百一十, 三万零二百, 两千零二十七."""
    if n >= 10_000:
        high, rest = divmod(n, 10_000)
        tail = () if not rest else (_say(ZH, "n0") if rest < 1000 else ()) + _zh_below(rest, leading=rest >= 1000)
        return number(high, ZH) + _say(ZH, "ten_thousand") + tail
    return _zh_below(n, leading=True)


def _zh_below(n: int, *, leading: bool) -> tuple[Prompt, ...]:
    """A number below 10,000. `leading`: it starts what is said, so 2 is 两 (两天, 两百, 两千) and 10–19 are 十X;
    after a zero or a higher unit 2 is 二 (一千二百, 一万零二) and 10–19 are 一十X."""
    if n < 100:
        if leading:
            return _say(ZH, "liang" if n == 2 else f"n{n}")
        return _say(ZH, f"n{n}") if n >= 20 or n < 10 else _say(ZH, "n1", f"n{n}")
    unit, name = (1000, "thousand") if n >= 1000 else (100, "hundred")
    head, rest = divmod(n, unit)
    said = _say(ZH, "liang" if leading and head == 2 else f"n{head}", name)
    if not rest:
        return said
    if rest < unit // 10:
        return said + _say(ZH, "n0") + _zh_below(rest, leading=False)
    return said + _zh_below(rest, leading=False)


def amount(money: Money, language: str) -> tuple[Prompt, ...]:
    """"ten euros and fifty cents" (fr: "dix euros cinquante"), "十欧元五十欧分", "十元五角五分"."""
    scale = 10 ** minor_digits(money.currency)
    major, minor = divmod(abs(money.minor), scale)
    code = money.currency if money.currency in _CURRENCIES else "EUR"
    if code != money.currency:
        raise ValueError(f"the hotline has no words for {money.currency}")
    said: tuple[Prompt, ...] = ()
    if major or not minor:
        count = number(major, language)
        if language == FR and code == "GBP":  # la livre
            count = _fr_feminine(count)
        singular = major == 1 or (language == FR and major == 0)  # "zéro euro"
        said = count + _say(language, f"{code}.major_{'one' if singular else 'many'}")
    if not minor:
        return said
    if language == ZH and code == "CNY":  # 五角, 五角五分, 十元零五分, 五分
        jiao, fen = divmod(minor, 10)
        return said + (number(jiao, ZH) + _say(ZH, "jiao") if jiao else _say(ZH, "n0") if said else ()) + (
            number(fen, ZH) + _say(ZH, "CNY.minor_many") if fen else ())
    if language == FR and said:  # "dix euros cinquante"
        return said + number(minor, FR)
    joiner = _say(EN, "and") if language == EN and said else ()
    return said + joiner + number(minor, language) + _say(language, f"{code}.minor_{'one' if minor == 1 else 'many'}")


def _fr_feminine(said: tuple[Prompt, ...]) -> tuple[Prompt, ...]:
    """"une", "vingt-et-une", "mille une": the last word agrees with a feminine noun."""
    feminine = f"{said[-1].name}_feminine"
    return said[:-1] + _say(FR, feminine) if feminine in PIECES else said


def day(when: date, language: str, *, today: date) -> tuple[Prompt, ...]:
    """"March twelfth", "le douze mars", "三月十二日"; the year only when it is not this one."""
    year: tuple[Prompt, ...] = ()
    if when.year != today.year:
        year = _year(when.year, language)
    if language == ZH:
        return year + _say(ZH, f"month{when.month}", f"day{when.day}")
    if language == FR:
        return _say(FR, "the", f"day{when.day}", f"month{when.month}") + year
    return _say(EN, f"month{when.month}", f"day{when.day}") + year


def _year(year: int, language: str) -> tuple[Prompt, ...]:
    if language == ZH:  # 二零二七年
        return tuple(p for d in str(year) for p in _say(ZH, f"n{d}")) + _say(ZH, "year")
    high, low = divmod(year, 100)
    if language == EN and low >= 10:  # twenty twenty-seven
        return number(high, EN) + number(low, EN)
    return number(year, language)


def days(n: int, language: str) -> tuple[Prompt, ...]:
    """"12 days", "1 jour", "12天"."""
    return number(n, language) + _say(language, "day" if n == 1 or (language == FR and n == 0) else "days")


def digits(text: str, language: str) -> tuple[Prompt, ...]:
    """A phone number or a code read digit by digit."""
    return tuple(p for d in text if d.isdigit() for p in _say(language, f"n{d}"))


def words(pieces: tuple[Prompt, ...]) -> str:
    """The text the pieces say, the menu's sentences (texts.py) included, for tests, logs and the HTTP mode's
    text-to-speech fallback: Chinese without spaces (三月十二日)."""
    from simkeep.voice.texts import TEXTS  # texts.py builds on this module's pieces

    said = [TEXTS.get(p.name, PIECES.get(p.name, {})).get(p.language, "") for p in pieces]
    return ("" if pieces and pieces[0].language == ZH else " ").join(text for text in said if text).strip()
