"""Languages of the pages: zh_CN, fr and en through Babel catalogs, amounts and dates in the reader's locale."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any, cast

import phonenumbers
from babel.core import negotiate_locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, PackageLoader, select_autoescape

from simkeep.core.clock import zone
from simkeep.core.money import Money

LANGUAGES = ("zh_CN", "fr", "en")
NAMES = {"zh_CN": "中文", "fr": "Français", "en": "English"}
BABEL_LOCALE = {"zh_CN": "zh_Hans_CN", "fr": "fr_FR", "en": "en"}
DEFAULT = "en"


def negotiate(accept_language: str | None, chosen: str | None = None) -> str:
    """An explicit choice (cookie or ?lang=) wins; then the browser's Accept-Language, by q-value."""
    if chosen in LANGUAGES:
        return chosen
    preferred = []
    for part in (accept_language or "").split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            preferred.append((float(q) if q else 1.0, tag.replace("-", "_")))
        except ValueError:
            continue
    tags = [tag for _, tag in sorted(preferred, key=lambda p: -p[0]) if tag]
    # A bare "zh" or "zh_Hans" reader gets simplified Chinese; "fr_CA" gets French.
    widened = [t for tag in tags for t in (tag, tag.split("_")[0])]
    found = negotiate_locale(widened, [*LANGUAGES, "zh"], sep="_")
    return {"zh": "zh_CN"}.get(found, found) if found else DEFAULT


@lru_cache(maxsize=8)
def translations(language: str) -> Translations:
    """Compiled in memory from the .po file: no build step, no binary files in the repository."""
    if language == "en":
        return Translations()
    po = resources.files("simkeep.locale").joinpath(language, "LC_MESSAGES", "messages.po")
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


@lru_cache(maxsize=8)
def environment(language: str) -> Environment:
    """One Jinja environment per language, so concurrent requests never share installed translations."""
    env = Environment(loader=PackageLoader("simkeep.web", "templates"), autoescape=select_autoescape(),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    # jinja2.ext.i18n adds this method when the environment is made: the class does not declare it
    cast(Any, env).install_gettext_translations(translations(language), newstyle=True)
    locale = BABEL_LOCALE[language]
    env.filters["money"] = lambda minor, currency: Money(minor, currency).format(locale)
    env.filters["last_day"] = lambda instant, tz: last_day(instant, tz, locale)
    env.filters["when"] = lambda instant, tz: when(instant, tz, locale)
    env.filters["phone"] = readable_phone
    env.globals.update(language=language, languages=LANGUAGES, language_names=NAMES)
    return env


def last_day(instant: datetime, tz: str, locale: str) -> str:
    """Validity ends at local midnight: people expect the last day it still works ("12 mars 2027")."""
    day = (instant.astimezone(zone(tz)) - timedelta(microseconds=1)).date()
    text = format_date(day, "long", locale=locale)
    # French writes the first of the month as an ordinal: "1er mars 2027" (CLDR has no such pattern).
    return "1er" + text[1:] if locale.startswith("fr") and day.day == 1 else text


def when(instant: datetime, tz: str, locale: str) -> str:
    """"26 nov. 2026 08:26": a date people read at a glance, minutes without seconds."""
    local = instant.astimezone(zone(tz))
    return f"{format_date(local.date(), 'medium', locale=locale)} {format_time(local.time(), 'short', locale=locale)}"


def readable_phone(msisdn: str) -> str:
    """+33 6 12 34 56 78, as the number's country writes it."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(msisdn), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return msisdn


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)
