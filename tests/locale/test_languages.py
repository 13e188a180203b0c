"""Which language a BCP 47 tag, a browser or a line's number picks, and whose region the formats follow."""

from __future__ import annotations

import pytest

from simkeep.core.errors import UnsupportedLanguage
from simkeep.locale import languages
from simkeep.locale.languages import Reader


@pytest.mark.parametrize(("tag", "language", "locale"), [
    ("zh-CN", "zh_CN", "zh_Hans_CN"), ("zh_CN", "zh_CN", "zh_Hans_CN"), ("ZH-cn", "zh_CN", "zh_Hans_CN"),
    ("zh-Hans", "zh_CN", "zh_Hans_CN"), ("zh-Hans-CN", "zh_CN", "zh_Hans_CN"), ("zh", "zh_CN", "zh_Hans_CN"),
    # Traditional Chinese readers: the Simplified words; Hong Kong's formats where CLDR has them in Simplified.
    ("zh-TW", "zh_CN", "zh_Hans_CN"), ("zh-Hant", "zh_CN", "zh_Hans_CN"), ("zh-Hant-TW", "zh_CN", "zh_Hans_CN"),
    ("zh-HK", "zh_CN", "zh_Hans_HK"), ("zh-Hant-HK", "zh_CN", "zh_Hans_HK"), ("zh-SG", "zh_CN", "zh_Hans_SG"),
    ("fr-FR", "fr", "fr_FR"), ("fr", "fr", "fr_FR"), ("FR", "fr", "fr_FR"), ("fr-CA", "fr", "fr_CA"),
    ("fr-BE", "fr", "fr_BE"), ("fr-CH", "fr", "fr_CH"), ("fr-XX", "fr", "fr_FR"),
    ("en-GB", "en", "en_GB"), ("en", "en", "en"), ("en-US", "en", "en_US"), ("EN_gb", "en", "en_GB"),
    ("en-150", "en", "en_150"), ("en-US-POSIX", "en", "en_US"), (" en-AU ", "en", "en_AU"),
])
def test_every_written_form_of_a_tag(tag: str, language: str, locale: str) -> None:
    reader = languages.parse(tag)
    assert (reader.language, reader.locale) == (language, locale)
    assert reader.tag == {"zh_CN": "zh-CN", "fr": "fr", "en": "en"}[language]


@pytest.mark.parametrize("tag", ["de", "de-DE", "klingon", "tlh", "", "  ", "zh-", "-CN", "en--GB", "en GB", "123",
                                 "en-GB;q=0.9", "x-private", "e", "zh-CNé", "en-" + "a" * 70, None, 3, ["en"]])
def test_anything_else_is_unsupported_with_a_stable_code(tag) -> None:
    with pytest.raises(UnsupportedLanguage) as caught:
        languages.parse(tag)
    assert (caught.value.code, caught.value.status) == ("unsupported_language", 422)
    assert caught.value.details == {"supported": ["zh-CN", "fr", "en"]}
    assert languages.read(tag if isinstance(tag, str) else None) is None


def test_stored_ids_have_one_canonical_tag() -> None:
    assert [languages.tag(language) for language in languages.LANGUAGES] == ["zh-CN", "fr", "en"]
    assert languages.tag("de") == "en"  # a row written by hand: answered as the default, never as garbage


@pytest.mark.parametrize(("accept", "chosen", "expected"), [
    ("zh-CN,zh;q=0.9", None, Reader("zh_CN", "CN")),
    ("zh", None, Reader("zh_CN")),
    ("zh-Hans", None, Reader("zh_CN")),
    ("zh-TW,zh;q=0.9,en;q=0.8", None, Reader("zh_CN", "TW")),
    ("zh-HK", None, Reader("zh_CN", "HK")),
    ("fr-CA", None, Reader("fr", "CA")),
    ("fr-FR,fr;q=0.9,en;q=0.8", None, Reader("fr", "FR")),
    ("fr-CH, fr;q=0.9, en;q=0.8", None, Reader("fr", "CH")),
    ("en-GB,en;q=0.9", None, Reader("en", "GB")),
    ("en,en-GB;q=0.9", None, Reader("en", "GB")),  # the words from "en", the region from its own en-GB
    ("en-US,en;q=0.9", None, Reader("en", "US")),
    ("de", None, Reader("en")),
    ("de-DE,fr;q=0.5", None, Reader("fr")),
    ("en;q=0.4,fr;q=0.8", None, Reader("fr")),
    ("fr;q=0,en", None, Reader("en")),  # q=0: not acceptable
    ("*,fr;q=0.5", None, Reader("fr")),
    ("fr;q=abc,en", None, Reader("en")),
    ("en;q=2,fr;q=0.5", None, Reader("fr")),  # a q over 1 is no q-value
    ("fr ; q=0.5 , en ; q=0.4", None, Reader("fr")),
    (None, None, Reader("en")),
    ("", None, Reader("en")),
    # An explicit choice picks the words; its region, else the browser's own tag of that language, the formats.
    ("zh-CN,zh;q=0.9", "fr", Reader("fr")),
    ("fr", "zh_CN", Reader("zh_CN", "CN")),
    ("fr", "zh-CN", Reader("zh_CN", "CN")),
    ("fr", "en", Reader("en")),
    ("fr-FR,en-GB;q=0.8", "en", Reader("en", "GB")),
    ("fr-FR", "en", Reader("en")),  # no region borrowed from another language: en_FR would write 10,00 €
    ("en-GB", "en-US", Reader("en", "US")),
    ("fr", "klingon", Reader("fr")),
    ("fr", "", Reader("fr")),
])
def test_negotiate(accept: str | None, chosen: str | None, expected: Reader) -> None:
    assert languages.negotiate(accept, chosen) == expected


def test_a_huge_accept_language_is_read_in_bounded_time() -> None:
    assert languages.negotiate(",".join(["de"] * 100_000 + ["fr"]), None) == Reader("en")
    assert languages.negotiate("de;q=" + "9" * 100_000 + ",fr", None) == Reader("fr")


@pytest.mark.parametrize(("language", "msisdn", "locale"), [
    ("en", "+447400123456", "en_GB"),  # a British number: British dates
    ("en", "+447700900123", "en_GB"),  # outside the allocated ranges: its calling code's main country
    ("en", "+12015550123", "en_US"),
    ("en", "+85251234567", "en_HK"),
    ("en", "+33612345678", "en"),  # English is not spoken in France: English's own formats, not 10,00 €
    ("fr", "+33612345678", "fr_FR"),
    ("fr", "+15145550123", "fr_CA"),
    ("fr", "+85251234567", "fr_FR"),
    ("zh_CN", "+85251234567", "zh_Hans_HK"),
    ("zh_CN", "+8613800138000", "zh_Hans_CN"),
    ("zh_CN", "+33612345678", "zh_Hans_CN"),
    ("zh_CN", "+886912345678", "zh_Hans_CN"),  # Taiwan: no Simplified CLDR data, the base locale
    ("de", "+4915112345678", "en"),  # a language we do not write: English
    ("fr", "not a number", "fr_FR"),
    ("fr", None, "fr_FR"),
])
def test_messages_follow_the_country_of_the_number_where_the_language_is_spoken(language, msisdn, locale) -> None:
    assert languages.for_number(language, msisdn).locale == locale


def test_the_lang_cookie_remembers_a_clean_tag() -> None:
    assert [languages.parse(tag).preference for tag in ("zh_CN", "zh-Hans", "ZH-hk", "fr", "fr-ca", "en_GB")] == [
        "zh-CN", "zh-CN", "zh-HK", "fr", "fr-CA", "en-GB"]
