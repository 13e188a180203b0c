"""The languages simkeep speaks, how a tag or a browser picks one, and whose region the formats follow.

Words come from three catalogs: `zh_CN` (Simplified Chinese), `fr` and `en` — the ids of the .po directories
next to this file, and what the database stores. Outside (JSON API, HTTP headers, `<html lang>`) a language is
written as its BCP 47 tag: `zh-CN`, `fr`, `en`.

Formats (dates, times, money) follow a Babel locale that may carry a region the words do not: an `en-GB` reader
reads the English pages with British dates ("29 November 2026", 24-hour times), an `en-US` one American dates
("November 29, 2026"). Traditional Chinese readers (`zh-Hant`, `zh-TW`, `zh-HK`, `zh-MO`) get the Simplified
pages: there is no Traditional catalog, and Simplified text is far closer to them than English or French is.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

import phonenumbers
from babel import localedata
from babel.languages import get_official_languages
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from simkeep.core.errors import UnsupportedLanguage

LANGUAGES = ("zh_CN", "fr", "en")
DEFAULT = "en"
NAMES = {"zh_CN": "中文", "fr": "Français", "en": "English"}
Tag = Literal["zh-CN", "fr", "en"]
TAGS: dict[str, Tag] = {"zh_CN": "zh-CN", "fr": "fr", "en": "en"}  # the one BCP 47 tag each is written as outside
_BY_SUBTAG = {"zh": "zh_CN", "fr": "fr", "en": "en"}
# Formats when the reader's region is unknown (or has no CLDR data for the language).
BASE_LOCALE = {"zh_CN": "zh_Hans_CN", "fr": "fr_FR", "en": "en"}

# language[-script][-region][-variant...]; "_" is read as "-" (zh_CN, as gettext writes it).
_TAG = re.compile(r"([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|[0-9]{3}))?(?:-[a-z0-9]{1,8})*", re.IGNORECASE)
_MAX_ACCEPTED = 20  # tags read from one Accept-Language header


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads: the catalog of the words and the Babel locale of the formats."""

    language: str  # zh_CN, fr or en
    region: str = ""  # ISO 3166 (GB) or UN M.49 (150) region the formats follow; "" when unknown

    @property
    def locale(self) -> str:
        """Babel locale of the formats: the language in the reader's region when CLDR knows it (en_GB,
        zh_Hans_HK), else the language's base locale. The script stays Simplified: the words are."""
        if self.region:
            candidate = f"zh_Hans_{self.region}" if self.language == "zh_CN" else f"{self.language}_{self.region}"
            if localedata.exists(candidate):
                return candidate
        return BASE_LOCALE[self.language]

    @property
    def tag(self) -> str:
        """The canonical BCP 47 tag of the language (zh-CN, fr, en): what APIs and headers answer."""
        return TAGS[self.language]

    @property
    def preference(self) -> str:
        """The language with the reader's region (en-GB, zh-HK), as remembered in the `lang` cookie."""
        return f"{self.tag.split('-')[0]}-{self.region}" if self.region else self.tag


def parse(tag: object) -> Reader:
    """A BCP 47 tag (zh-CN, zh-Hans, zh-Hant-TW, zh, fr-FR, fr, en-GB, en; any case; `_` for `-`) -> the reader.
    Raises UnsupportedLanguage (422 `unsupported_language`) for a tag of another language or no tag at all."""
    match = _TAG.fullmatch(tag.strip().replace("_", "-")) if isinstance(tag, str) and len(tag) <= 64 else None
    language = _BY_SUBTAG.get(match.group(1).lower()) if match else None
    if match is None or language is None:
        raise UnsupportedLanguage(supported=list(TAGS.values()))
    return Reader(language, (match.group(3) or "").upper())


def tag(language: str) -> Tag:
    """The canonical BCP 47 tag of a stored language id (zh_CN -> zh-CN)."""
    return TAGS.get(language, TAGS[DEFAULT])


def negotiate(accept_language: str | None, chosen: str | None = None) -> Reader:
    """The pages' reader. An explicit choice (`?lang=` or the `lang` cookie) picks the words; otherwise the
    browser's Accept-Language does, by q-value. The formats follow the region of the reader's own tag for that
    language: the chosen one, else the first Accept-Language tag of the same language that names a region."""
    accepted = _accepted(accept_language)
    reader = read(chosen) or next(iter(accepted), Reader(DEFAULT))
    if not reader.region:
        regions = (r.region for r in accepted if r.language == reader.language and r.region)
        reader = Reader(reader.language, next(regions, ""))
    return reader


def for_number(language: str, msisdn: str | None) -> Reader:
    """Messages and receipts have no browser to ask: their formats follow the country of the line's number where
    the language is spoken there (an English line on +44 reads British dates, a Chinese one on +852 Hong Kong
    times); elsewhere the language's base locale (an English line on +33 reads "March 12, 2027")."""
    language = language if language in LANGUAGES else DEFAULT
    region = _country(msisdn)
    spoken = {official.split("_")[0] for official in get_official_languages(region, de_facto=True)} if region else ()
    return Reader(language, region if language.split("_")[0] in spoken else "")


@lru_cache(maxsize=8)
def translations(language: str) -> Translations:
    """Compiled in memory from the .po file: no build step, no binary files in the repository."""
    if language not in LANGUAGES or language == "en":
        return Translations()
    po = resources.files("simkeep.locale").joinpath(language, "LC_MESSAGES", "messages.po")
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def gettext(language: str, message: str) -> str:
    return translations(language).gettext(message)


def read(tag: str | None) -> Reader | None:
    """`parse`, or None for no tag or one we cannot read (where a page falls back rather than refuse)."""
    try:
        return parse(tag) if tag else None
    except UnsupportedLanguage:
        return None


def _accepted(header: str | None) -> list[Reader]:
    """Accept-Language (RFC 9110 §12.5.4) as readers, most wanted first; q=0, `*` and other languages dropped."""
    weighted = []
    for position, part in enumerate((header or "").split(",")[:_MAX_ACCEPTED]):
        name, *params = (piece.strip() for piece in part.split(";"))
        weight = next((p[2:] for p in params if p[:2].lower() == "q="), "1")
        try:
            q = float(weight)
        except ValueError:
            continue
        reader = read(name)
        if reader is not None and 0 < q <= 1:
            weighted.append((-q, position, reader))
    return [reader for _, _, reader in sorted(weighted, key=lambda w: w[:2])]


def _country(msisdn: str | None) -> str:
    """The number's country; for a number outside the allocated ranges, its calling code's main country."""
    try:
        number = phonenumbers.parse(msisdn or "")
    except phonenumbers.NumberParseException:
        return ""
    return (phonenumbers.region_code_for_number(number)
            or phonenumbers.region_code_for_country_code(number.country_code or 0))
