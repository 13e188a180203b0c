"""Translations: complete catalogs, an up-to-date template, pages with no English left (negotiation: tests/locale)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.dates import format_date
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from fastapi.testclient import TestClient

from simkeep.catalog import service as catalog
from simkeep.core import clock
from simkeep.db import Database
from simkeep.line import rules
from simkeep.locale import languages
from simkeep.main import create_app
from tests.factories.lines import make_line
from tests.factories.sessions import open_session
from tests.locale.typography import problems

ROOT = Path(__file__).resolve().parents[2]
LOCALE_DIR = ROOT / "src" / "simkeep" / "locale"
POT = LOCALE_DIR / "messages.pot"
PLURAL_FORMS = {"fr": (2, "(n > 1)"), "zh_CN": (1, "0")}
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
NOW = datetime(2027, 3, 4, 10, 30, tzinfo=UTC)  # the portal's clock, frozen: dates on the pages are predictable
PAGES = ["/", "/stores", "/signin", "/recharge", "/recharge?operator=fr-sfr-la-carte"]


def _read(path: Path, locale: str | None = None):
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def _key(message) -> tuple[str, ...]:
    """The message's identity: its msgid (and plural), after its msgctxt when it has one ("receipt row")."""
    ids = tuple(message.id) if isinstance(message.id, (list, tuple)) else (message.id,)
    return (f"{message.context}\x04{ids[0]}", *ids[1:]) if message.context else ids


def _placeholders(*texts: str) -> set[str]:
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


# -- (a) complete catalogs -------------------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["fr", "zh_CN"])
def test_catalog_header(language: str) -> None:
    po = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    catalog_ = _read(po, language)
    headers = dict(catalog_.mime_headers)
    nplurals, plural = PLURAL_FORMS[language]
    assert headers["Language"] == language
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Plural-Forms"] == f"nplurals={nplurals}; plural={plural};"
    assert catalog_.num_plurals == nplurals


@pytest.mark.parametrize("language", ["fr", "zh_CN"])
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    template = _read(POT)
    translated = {_key(m): m for m in _read(LOCALE_DIR / language / "LC_MESSAGES" / "messages.po", language)
                  if m.id}
    nplurals = PLURAL_FORMS[language][0]
    problems = []
    for message in template:
        if not message.id:
            continue
        key = _key(message)
        found = translated.get(key)
        if found is None:
            problems.append(f"missing: {key[0]!r}")
            continue
        if found.fuzzy:
            problems.append(f"fuzzy: {key[0]!r}")
        expected = _placeholders(*key)
        forms = list(found.string) if found.pluralizable else [found.string]
        if found.pluralizable and len(forms) != nplurals:
            problems.append(f"{len(forms)} plural forms instead of {nplurals}: {key[0]!r}")
        for form in forms:
            if not form or not form.strip():
                problems.append(f"empty: {key[0]!r}")
            elif _placeholders(form) != expected:
                problems.append(f"placeholders {sorted(_placeholders(form))} != {sorted(expected)}: {key[0]!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", ["fr", "zh_CN"])
def test_catalog_has_no_stale_entries(language: str) -> None:
    """Messages no longer in the template (run `make i18n`) would only confuse translators."""
    template = {_key(m) for m in _read(POT) if m.id}
    po = _read(LOCALE_DIR / language / "LC_MESSAGES" / "messages.po", language)
    assert {_key(m) for m in po if m.id} == template
    assert not po.obsolete


@pytest.mark.parametrize("language", ["fr", "zh_CN"])
def test_catalog_compiles_and_plurals_work(language: str) -> None:
    translations = languages.translations(language)
    one = translations.ngettext("%(num)d day of validity", "%(num)d days of validity", 1) % {"num": 1}
    many = translations.ngettext("%(num)d day of validity", "%(num)d days of validity", 30) % {"num": 30}
    if language == "fr":
        assert (one, many) == ("1 jour de validité", "30 jours de validité")
        assert translations.ngettext("%(num)d day left", "%(num)d days left", 0) % {"num": 0} == "0 jour restant"
    else:
        assert (one, many) == ("有效期 1 天", "有效期 30 天")


@pytest.mark.parametrize("language", ["en", "fr", "zh_CN"])
def test_catalog_spacing(language: str) -> None:
    """The spacing rules of tests/locale/typography.py, on every page text: the English source texts (msgid) and
    the French and Chinese translations (msgstr), placeholders as they are."""
    po = _read(LOCALE_DIR / ("fr" if language == "en" else language) / "LC_MESSAGES" / "messages.po", language)
    found = []
    for message in po:
        if not message.id:
            continue
        source, translated = (message.id, message.string) if message.pluralizable else ((message.id,), (message.string,))
        texts = source if language == "en" else translated
        found += [problem for text in texts for problem in problems(PLACEHOLDER.sub("X", text), language)]
    assert found == []


# -- (b) the template follows the code -------------------------------------------------------------------------

def test_pot_is_up_to_date_with_templates_and_code(tmp_path: Path) -> None:
    """Fails when a string was added or changed without running `make i18n`."""
    fresh = tmp_path / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "N_", "--no-location", "--sort-output",
        "--project", "simkeep", "-o", str(fresh), str(ROOT),
    ])
    extracted = {_key(m) for m in _read(fresh) if m.id}
    committed = {_key(m) for m in _read(POT) if m.id}
    assert extracted, "extraction found no message: check babel.cfg"
    missing, stale = sorted(extracted - committed), sorted(committed - extracted)
    assert not missing and not stale, f"run `make i18n`: not in messages.pot {missing}; no longer used {stale}"


# -- (d) rendered pages ----------------------------------------------------------------------------------------

class _Text(HTMLParser):
    """Visible text of a page (and the attributes a screen reader speaks), without scripts and styles."""

    SPOKEN = ("aria-label", "alt", "title", "placeholder")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.html_lang: str | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.html_lang = dict(attrs).get("lang")
        if tag in ("script", "style"):
            self._skip += 1
        self.chunks.extend(value for name, value in attrs if name in self.SPOKEN and value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(self._skip - 1, 0)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.chunks.append(data)

    @property
    def text(self) -> str:
        # ASCII whitespace only: the no-break spaces Babel and French typography put in must survive
        return re.sub(r"[ \t\r\n\f\v]+", " ", " ".join(self.chunks)).strip(" ")


def _parse(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture
def portal(settings, db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    with TestClient(create_app(settings, db)) as test_client:
        yield test_client


@pytest.fixture
def allowed_names(db: Database) -> list[str]:
    """Words that stay as they are in every language: brands and products from the catalog, language names,
    currency codes, and a few payment terms."""
    with db.transaction(write=False) as session:
        operators = [op for op, _ in catalog.list_operators(session)]
    names = {"simkeep", "PayPal", "IBAN", "BIC", *languages.NAMES.values()}
    for op in operators:
        names.update((op.brand, op.product, op.currency))
    return sorted(names, key=len, reverse=True)  # longest first: "La Carte" before "Carte"


def _english_sentences(language: str) -> list[str]:
    """Source texts of two words or more that the catalog translates differently, placeholders cut out."""
    po = _read(LOCALE_DIR / language / "LC_MESSAGES" / "messages.po", language)
    found = []
    for message in po:
        if not message.id or message.pluralizable or message.string == message.id:
            continue
        for part in PLACEHOLDER.split(message.id)[::2]:  # split() interleaves the names: keep the text
            part = part.strip(" .,;:")
            if len(part.split()) >= 2:
                found.append(part)
    return found


def _get(client: TestClient, path: str, language: str) -> _Text:
    url = f"{path}{'&' if '?' in path else '?'}lang={language}"
    response = client.get(url)
    assert response.status_code == 200, url
    assert response.headers["content-language"] == language.replace("_", "-")
    parsed = _parse(response.text)
    assert parsed.html_lang == language.replace("_", "-")
    return parsed


@pytest.mark.parametrize("path", PAGES)
def test_chinese_pages_have_no_english_left(portal: TestClient, allowed_names: list[str], path: str) -> None:
    text = _get(portal, path, "zh_CN").text
    assert re.search(r"[\u4e00-\u9fff]", text)
    for name in allowed_names:
        text = re.sub(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", " | ", text)
    english = re.findall(r"[A-Za-z]+(?:\s+[A-Za-z]+)+", text)
    assert not english, f"untranslated English on {path}: {english}"


@pytest.mark.parametrize("path", PAGES)
def test_french_pages_have_no_english_sentence_left(portal: TestClient, path: str) -> None:
    text = _get(portal, path, "fr").text
    left = [sentence for sentence in _english_sentences("fr") if sentence in text]
    assert not left, f"untranslated English on {path}: {left}"


def test_babel_french_money_and_dates() -> None:
    """What the page assertions below rely on: Babel's fr_FR spacing and month names."""
    assert format_currency(Decimal("10"), "EUR", locale="fr_FR") == "10,00\u00a0€"
    assert format_date(date(2026, 12, 3), "long", locale="fr_FR") == "3 décembre 2026"


def test_french_home_page(portal: TestClient) -> None:
    text = _get(portal, "/", "fr").text
    for expected in ("Gardez votre numéro actif", "Recharger", "Consulter ma ligne", "Offres", "Opérateur",
                     "10,00\u00a0€", "7 jours de validité", "Vous préférez payer en boutique\u202f?",
                     "Trouver une boutique", "Mes lignes", "Aller au contenu"):
        assert expected in text, expected


def test_french_other_pages(portal: TestClient) -> None:
    stores = _get(portal, "/stores", "fr").text
    assert "Magasins près de moi" in stores and "Trouver une boutique" in stores
    signin = _get(portal, "/signin", "fr").text
    for expected in ("Consulter ma ligne", "Numéro de mobile", "Recevoir un code",
                     "Format international (+33…, +852…, +86…) ou format national français (06…)."):
        assert expected in signin, expected
    sfr = _get(portal, "/recharge?operator=fr-sfr-la-carte", "fr").text
    for expected in ("Choisissez un montant", "Montant et durée de validité", "15 jours de validité",
                     "95,00\u00a0€", "Continuer", "Étapes"):
        assert expected in sfr, expected


def _holder_sees_dates(portal: TestClient, db: Database, operator_id: str = "fr-orange-mobicarte") -> date:
    """Dates are shown only for a known line (before that, the offers promise days, no date): a line, and this
    browser having verified its number. Returns the last day the shortest offer would give the line."""
    line = make_line(db, operator_id=operator_id, now=NOW)
    open_session(db, portal, {"numbers": [line.msisdn]}, now=NOW)
    with db.transaction(write=False) as session:
        operator, offers = next((op, offers) for op, offers in catalog.list_operators(session)
                                if op.id == operator_id)
        shortest = min(offers, key=lambda offer: offer.validity_days)
        end = rules.extended_validity(operator, line.validity_ends_at, shortest.validity_days, NOW)
    return (end.astimezone(clock.zone(operator.timezone)) - timedelta(microseconds=1)).date()


HOLDER_OFFERS = "/recharge?msisdn=%2B33612345678"  # the wizard's offers for the verified number, with its dates


@pytest.mark.parametrize("operator_id", ["fr-orange-mobicarte", "fr-sfr-la-carte"])
def test_french_validity_dates(portal: TestClient, db: Database, operator_id: str) -> None:
    last_day = _holder_sees_dates(portal, db, operator_id)
    text = _get(portal, HOLDER_OFFERS, "fr").text
    expected = f"valable jusqu'au {format_date(last_day, 'long', locale='fr_FR')}"
    assert expected in text
    assert re.search(r"valable jusqu'au \d{1,2} [a-zéû]+ \d{4}", text)


def test_chinese_money_and_dates(portal: TestClient, db: Database) -> None:
    last_day = _holder_sees_dates(portal, db)
    text = _get(portal, HOLDER_OFFERS, "zh_CN").text
    assert f"有效期至 {format_date(last_day, 'long', locale='zh_Hans_CN')}" in text
    assert "有效期 7 天" in text
    assert "选择充值金额" in _get(portal, "/recharge", "zh_CN").text


# -- (e) tags and regions on the pages ---------------------------------------------------------------------------

@pytest.mark.parametrize(("accept", "written"), [
    ("en-GB,en;q=0.9", "valid until {day} {month} {year}"),  # 10 April 2027
    ("en-IE", "valid until {day} {month} {year}"),
    ("en-US,en;q=0.9", "valid until {month} {day}, {year}"),  # April 10, 2027
    ("en", "valid until {month} {day}, {year}"),
    ("fr-FR,en-GB;q=0.5", "valid until {day} {month} {year}"),  # ?lang=en below: the region of the reader's en-GB
])
def test_english_pages_write_dates_as_the_readers_region_does(portal: TestClient, db: Database, accept: str,
                                                              written: str) -> None:
    day = _holder_sees_dates(portal, db)
    response = portal.get(f"{HOLDER_OFFERS}&lang=en" if accept.startswith("fr") else HOLDER_OFFERS,
                          headers={"Accept-Language": accept})
    assert response.status_code == 200 and response.headers["content-language"] == "en"
    assert response.headers["vary"] == "Accept-Language, Cookie"  # no shared cache serves it to another reader
    text = _parse(response.text).text
    assert written.format(day=day.day, month=day.strftime("%B"), year=day.year) in text, text
    assert _parse(response.text).html_lang == "en"  # the words are the one English catalog


@pytest.mark.parametrize(("chosen", "cookie"), [
    ("zh-CN", "zh-CN"), ("zh_CN", "zh-CN"), ("ZH-hans", "zh-CN"), ("zh", "zh-CN"),
    ("zh-TW", "zh-TW"), ("zh-Hant-HK", "zh-HK"),  # Traditional readers: the Simplified pages
])
def test_chinese_pages_from_any_chinese_tag(portal: TestClient, chosen: str, cookie: str) -> None:
    response = portal.get(f"/?lang={chosen}", headers={"Accept-Language": "fr-FR"})
    assert response.status_code == 200
    assert (response.headers["content-language"], _parse(response.text).html_lang) == ("zh-CN", "zh-CN")
    assert languages.gettext("zh_CN", "Keep your number alive") in _parse(response.text).text
    assert response.cookies["lang"] == cookie
    # The remembered tag brings the same pages back, without ?lang=.
    later = portal.get("/stores", headers={"Accept-Language": "fr-FR"})
    assert later.headers["content-language"] == "zh-CN"


def test_a_cookie_written_before_bcp47_still_works(portal: TestClient) -> None:
    portal.cookies.set("lang", "zh_CN")
    response = portal.get("/stores", headers={"Accept-Language": "en"})
    assert response.headers["content-language"] == "zh-CN"


def test_an_unknown_lang_falls_back_to_the_browser_and_is_not_remembered(portal: TestClient) -> None:
    response = portal.get("/?lang=klingon", headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    assert response.status_code == 200 and response.headers["content-language"] == "fr"
    assert "lang" not in response.cookies


def test_the_language_switcher_links_the_canonical_tags(portal: TestClient) -> None:
    page = portal.get("/?lang=fr").text
    links = re.findall(r'<a href="\?lang=([^"]+)" hreflang="([^"]+)" lang="([^"]+)"', page)
    assert links == [("zh-CN", "zh-CN", "zh-CN"), ("fr", "fr", "fr"), ("en", "en", "en")]
