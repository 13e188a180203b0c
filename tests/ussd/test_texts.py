"""Every USSD screen fits one USSD string in every language, filled with the longest values it can show."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simkeep.core.money import Money
from simkeep.locale import formats, languages
from simkeep.notification.senders.smpp import ussd as smpp_ussd
from simkeep.ussd import texts

# Long numbers as people read them, the largest balance a line can plausibly hold in its longest currency
# symbol, and the longest dates (September, the 30th; "1er" in French).
NUMBERS = ("+33 6 12 34 56 78", "+852 9123 4567", "+86 131 2345 6789", "+44 7700 900123", "+999 999 999 999 999")
AMOUNTS = [Money(99_999_999, currency) for currency in ("EUR", "HKD", "GBP", "USD", "CNY")]
DATES = [datetime(2027, 10, 1, tzinfo=UTC), datetime(2027, 10, 2, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)]
CODES = ("*100#", "*123*456#")


def longest(values) -> str:
    return max(values, key=lambda v: texts.size(v)[1])


def fields(language: str) -> dict[str, str]:
    locales = {languages.for_number(language, msisdn).locale for msisdn in ("+33612345678", "+85291234567",
                                                                             "+447700900123", "+8613123456789")}
    money = longest([formats.money(a, locale) for a in AMOUNTS for locale in locales])
    day = longest([formats.last_day(d, tz, locale) for d in DATES for locale in locales
                   for tz in ("Europe/Paris", "Asia/Hong_Kong")])
    return {"number": longest(NUMBERS), "balance": money, "amount": money, "validity_end": day, "loss_date": day,
            "code": longest(CODES)}


def screens(language: str) -> dict[str, str]:
    """Every screen the menu sends, as service.py composes them (an error line above a repeated screen)."""
    values = fields(language)
    plain = {key: texts.text(key, language, **values) for key in texts.TEXTS}
    invalid = texts.text("invalid", language)
    return {**plain, **{f"invalid+{key}": f"{invalid}\n{plain[key]}" for key in ("menu", "balance", "language")}}


@pytest.mark.parametrize("language", languages.LANGUAGES)
def test_every_screen_fits_one_ussd_string(language):
    too_long = {key: texts.size(screen) for key, screen in screens(language).items() if not texts.fits(screen)}
    assert too_long == {}


@pytest.mark.parametrize("language", languages.LANGUAGES)
def test_what_is_measured_is_what_goes_out(language):
    """The size counted is the size sent: GSM-7 one septet per octet (extension characters as two), or UCS-2."""
    for screen in screens(language).values():
        encoding, units = texts.size(screen)
        coding, data = smpp_ussd.encode(screen, packed=False)
        assert (encoding, units) == (("GSM-7", len(data)) if coding == 0 else ("UCS-2", len(data) // 2))


def test_chinese_screens_go_as_ucs2_and_the_others_as_gsm7():
    assert {texts.size(screen)[0] for screen in screens("zh_CN").values()} == {"UCS-2"}
    for language in ("en", "fr"):
        gsm = {key for key, screen in screens(language).items() if texts.size(screen)[0] == "GSM-7"}
        assert gsm == set(screens(language)) - {"language", "invalid+language"}  # "中文" needs UCS-2


def test_the_limits_are_182_septets_and_80_ucs2_characters():
    assert texts.fits("a" * 182) and not texts.fits("a" * 183)
    assert texts.fits("€" * 91) and not texts.fits("a" + "€" * 91)  # an extension character costs two septets
    assert texts.fits("余" * 80) and not texts.fits("余" * 81)
    assert texts.size("Solde\u00a0: 10,00\u00a0€") == ("GSM-7", 16)  # no-break spaces fold, € is escaped


@pytest.mark.parametrize("language", languages.LANGUAGES)
def test_no_typography_slip_in_any_screen(language):
    """The rules every message follows (tests/locale/typography.py): French spaces, Chinese full-width punctuation
    and no space against a Chinese character (a menu's choices are "1.余额", as Chinese USSD menus write them)."""
    from tests.locale.typography import problems

    found = {key: [problem for line in screen.split("\n") for problem in problems(line, language, message=True)]
             for key, screen in screens(language).items()}  # a screen is lines: a menu's newlines are its layout
    assert {key: problem for key, problem in found.items() if problem} == {}
