"""Money, dates, times and phone numbers as a reader writes them: every page, message and receipt formats here.

`locale` is a Babel locale id (`Reader.locale`: en, en_GB, fr_FR, zh_Hans_CN, ...). Instants are UTC; the zone
given is the one the reader counts days in (the operator's, or the browser's).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import phonenumbers
from babel import Locale
from babel.dates import format_date, format_time, get_timezone_location
from babel.numbers import format_decimal, format_percent

from simkeep.core.clock import zone
from simkeep.core.money import Money


def money(amount: Money, locale: str) -> str:
    """"€10.00" (en, zh_CN), "10,00 €" (fr, with a no-break space), "HK$6.00"; CLDR's rules, in Money.format."""
    return amount.format(locale)


def number(value: int, locale: str) -> str:
    """"1,000,000" (en), "1 000 000" (fr, narrow no-break spaces), "1,000,000" (zh_CN): counts of things."""
    return format_decimal(value, locale=locale)


def percent(basis_points: int, locale: str) -> str:
    """A rate given in basis points: "7.5%" (en, zh_CN), "7,5 %" (fr); two decimals at most, none when whole."""
    pattern = Locale.parse(locale).percent_formats[None].pattern.replace("#,##0", "#,##0.##")
    return format_percent(Decimal(basis_points) / 10_000, format=pattern, locale=locale)


def day(value: date, locale: str) -> str:
    """"12 March 2027" (en_GB), "March 12, 2027" (en), "2027年3月12日"; French writes the first of the month as an
    ordinal, "1er mars 2027" (CLDR has no such pattern)."""
    text = format_date(value, "long", locale=locale)
    return "1er" + text[1:] if locale.startswith("fr") and value.day == 1 else text


def last_day(instant: datetime, tz: str, locale: str) -> str:
    """Validity ends at local midnight: people expect the last day it still works ("12 mars 2027")."""
    return day(last_date(instant, tz), locale)


def last_date(instant: datetime, tz: str) -> date:
    return (instant.astimezone(zone(tz)) - timedelta(microseconds=1)).date()


def when(instant: datetime, tz: str, locale: str) -> str:
    """"26 Nov 2026, 08:26" style: a date read at a glance and minutes without seconds ("Nov 26, 2026 8:26 AM" in
    en, "26 nov. 2026 08:26" in fr, "2026年11月26日 08:26" in zh_CN)."""
    local = instant.astimezone(zone(tz))
    return f"{format_date(local.date(), 'medium', locale=locale)} {format_time(local.time(), 'short', locale=locale)}"


def moment(instant: datetime, tz: str, locale: str) -> str:
    """"2 mars 2027 10:15 (heure : France)": a long date and time with the zone named, so nobody guesses."""
    local = instant.astimezone(zone(tz))
    return (f"{day(local.date(), locale)} {format_time(local.time(), 'short', locale=locale)}"
            f" ({get_timezone_location(zone(tz), locale=locale)})")


def clock_time(instant: datetime, tz: str, locale: str) -> str:
    """"10:15 (heure : France)": a time within the next hours (until when a quoted price holds), the zone named."""
    local = instant.astimezone(zone(tz))
    return f"{format_time(local.time(), 'short', locale=locale)} ({get_timezone_location(zone(tz), locale=locale)})"


def phone(msisdn: str) -> str:
    """"+33 6 12 34 56 78": as the number's own country groups it, whoever reads it."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(msisdn), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return msisdn


def plural(n: int, locale: str) -> str:
    """The CLDR plural category of n ("one", "other"): French "one" covers 0 and 1, Chinese has only "other"."""
    return Locale.parse(locale).plural_form(n)
