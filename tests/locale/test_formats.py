"""Money, dates, times and phone numbers as each reader writes them (Babel's CLDR data, checked value by value)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from simkeep.core.money import Money
from simkeep.locale import formats, languages

NBSP, NNBSP = "\u00a0", "\u202f"
# Validity that ends at the start of 30 November 2026, Paris time: 29 November is the last day it works.
END = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
PAID = datetime(2026, 11, 29, 7, 26, tzinfo=UTC)  # 08:26 in Paris


@pytest.mark.parametrize(("tag", "last_day", "when"), [
    ("en-GB", "29 November 2026", "29 Nov 2026 08:26"),
    ("en-IE", "29 November 2026", "29 Nov 2026 08:26"),
    ("en-US", "November 29, 2026", f"Nov 29, 2026 8:26{NNBSP}AM"),
    ("en", "November 29, 2026", f"Nov 29, 2026 8:26{NNBSP}AM"),
    ("fr", "29 novembre 2026", "29 nov. 2026 08:26"),
    ("fr-CA", "29 novembre 2026", "29 nov. 2026 08 h 26"),
    ("fr-CH", "29 novembre 2026", "29 nov. 2026 08:26"),
    ("zh-CN", "2026年11月29日", "2026年11月29日 08:26"),
    ("zh-HK", "2026年11月29日", "2026年11月29日 上午8:26"),
])
def test_dates_and_times_follow_the_readers_region(tag: str, last_day: str, when: str) -> None:
    locale = languages.parse(tag).locale
    assert formats.last_day(END, "Europe/Paris", locale) == last_day
    assert formats.when(PAID, "Europe/Paris", locale) == when


def test_french_writes_the_first_of_the_month_as_an_ordinal() -> None:
    assert formats.day(date(2027, 3, 1), "fr_FR") == "1er mars 2027"
    assert formats.day(date(2027, 3, 1), "fr_CA") == "1er mars 2027"
    assert formats.day(date(2027, 3, 2), "fr_FR") == "2 mars 2027"
    assert formats.day(date(2027, 3, 1), "en_GB") == "1 March 2027"


def test_the_last_day_is_the_day_before_the_local_midnight_the_validity_ends_at() -> None:
    assert formats.last_date(datetime(2027, 3, 12, 23, 0, tzinfo=UTC), "Europe/Paris") == date(2027, 3, 12)
    assert formats.last_date(datetime(2027, 3, 12, 16, 0, tzinfo=UTC), "Asia/Hong_Kong") == date(2027, 3, 12)
    assert formats.last_date(datetime(2027, 3, 12, 23, 0, 1, tzinfo=UTC), "Europe/Paris") == date(2027, 3, 13)


@pytest.mark.parametrize(("locale", "eur", "hkd"), [
    ("en", "€10.00", "HK$6.00"),
    ("en_GB", "€10.00", "HK$6.00"),
    ("fr_FR", f"10,00{NBSP}€", f"6,00{NBSP}HKD"),
    ("fr_CA", f"10,00{NBSP}€", f"6,00{NBSP}$\u00a0HK"),
    ("zh_Hans_CN", "€10.00", "HK$6.00"),
])
def test_money(locale: str, eur: str, hkd: str) -> None:
    assert formats.money(Money(1000, "EUR"), locale) == eur
    assert formats.money(Money(600, "HKD"), locale) == hkd


def test_moment_names_the_zone_in_the_readers_language() -> None:
    instant = datetime(2027, 3, 2, 9, 15, tzinfo=UTC)
    assert formats.moment(instant, "Europe/Paris", "fr_FR") == "2 mars 2027 10:15 (heure : France)"
    assert formats.moment(instant, "Europe/London", "en_GB") == "2 March 2027 09:15 (United Kingdom Time)"
    assert formats.moment(instant, "Asia/Shanghai", "zh_Hans_CN") == "2027年3月2日 17:15 (中国（上海）时间)"


def test_phone_numbers_are_grouped_as_their_country_does() -> None:
    assert formats.phone("+33612345678") == "+33 6 12 34 56 78"
    assert formats.phone("+85251234567") == "+852 5123 4567"
    assert formats.phone("+447700900123") == "+44 7700 900123"
    assert formats.phone("not a number") == "not a number"


def test_plural_categories() -> None:
    assert [formats.plural(n, "fr_FR") for n in (0, 1, 2)] == ["one", "one", "other"]
    assert [formats.plural(n, "en") for n in (0, 1, 2)] == ["other", "one", "other"]
    assert formats.plural(1, "zh_Hans_CN") == "other"
