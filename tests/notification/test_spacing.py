"""No stray space in any message: every template, in every language, rendered with realistic values (the back
office's samples, plus the variants that add the remaining pieces: every payment method and failure, a retry link,
singular counts) and checked against the rules in tests/locale/typography.py."""

from __future__ import annotations

import pytest

from simkeep.locale.languages import LANGUAGES
from simkeep.notification import segments, templates
from tests.locale.typography import links, problems

BASE = "https://simkeep.example"
PAYMENT = {"msisdn": "+33612345678", "timezone": "Europe/Paris", "amount": {"amount_minor": 1000, "currency": "EUR"}}
ONE_DAY = {"id": "fr-orange-mobicarte-1", "amount": {"amount_minor": 100, "currency": "EUR"}, "validity_days": 1}


def variants() -> list[tuple[str, str, dict]]:
    extra = [("otp.code", "one minute", {"code": "000731", "minutes": 1})]
    extra += [("payment.failed", f"{method or 'no method'}, {failure or 'no reason'}, retry link",
               {**PAYMENT, "method": method, "failure": failure, "renew_url": f"{BASE}/recharge?msisdn=%2B33612345678"})
              for method in templates.METHODS for failure in [*templates.FAILURES, *templates.FAILURE_ALIASES]]
    extra += [("reminder", f"{days} days before, one-day offer", {
        "msisdn": "+447400123456", "timezone": "Europe/London", "number_loss_at": "2027-03-01T00:00:00+00:00",
        "days_before": days, "state": "active", "cheapest_offer": ONE_DAY, "renew_url": f"{BASE}/recharge"})
        for days in (0, 1, 2)]
    return templates.samples(BASE) + extra


RENDERS = [(topic, variant, language, payload) for topic, variant, payload in variants() for language in LANGUAGES]


@pytest.mark.parametrize(("topic", "variant", "language", "payload"), RENDERS,
                         ids=[f"{t}-{v}-{lang}" for t, v, lang, _ in RENDERS])
def test_no_stray_space_in_any_message(topic: str, variant: str, language: str, payload: dict) -> None:
    text = templates.render(topic, language, payload)
    subject = templates.subject(topic, language, payload)
    assert problems(text, language, message=True) == [], text
    assert problems(subject, language, message=True) == [], subject
    # A link is read up to the first space: nothing (no Chinese character, no full stop) may stick to it.
    urls = {value for value in payload.values() if isinstance(value, str) and value.startswith("http")}
    assert set(links(text)) == urls, text
    # What the SMS carries: French and English folded to GSM-7 keep one plain space where the text had one.
    sms = segments.analyse(text)
    assert problems(sms.text, "en" if language == "en" else "any", message=True) == []


def test_every_piece_of_every_template_is_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test above can only vouch for what it renders: every text, piece, subject, method and failure."""
    picked: set[tuple[int, str]] = set()
    real = templates._pick

    def recording(table, key, language, default=None):
        picked.add((id(table), key))
        return real(table, key, language, default)

    monkeypatch.setattr(templates, "_pick", recording)
    for topic, _variant, language, payload in RENDERS:
        templates.render(topic, language, payload)
        templates.subject(topic, language, payload)
    tables = {"TEXTS": templates.TEXTS, "PIECES": templates.PIECES, "SUBJECTS": templates.SUBJECTS,
              "METHODS": templates.METHODS, "FAILURES": templates.FAILURES}
    missing = [f"{name}[{key!r}]" for name, table in tables.items() for key in table if (id(table), key) not in picked]
    assert missing == []


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("Recharge:  now", "en", ["two spaces"]),
    (" Recharge", "en", ["space at an end"]),
    ("Recharge :", "en", ["space before ; : ! ?"]),
    ("done .", "en", ["space before . , )"]),
    ("done.Your line", "en", ["no space after punctuation"]),
    ("Hello {msisdn}", "en", ["placeholder left"]),
    ("Recharger : maintenant", "fr", ["French wants U+00A0 before ':'"]),
    ("Recharger: maintenant", "fr", ["French wants U+00A0 before ':'"]),
    ("Vraiment\u00a0?", "fr", ["French wants U+202F before '?'"]),
    ("Recharger\u00a0: https://x.test/a?b=c", "fr", []),
    ("Ouvert de 09:00 à 19:00", "fr", []),
    ("Ouvert à 9:", "fr", ["French wants U+00A0 before ':'"]),
    ("号码 已停机", "zh_CN", ["space between Chinese characters"]),
    ("号码已停机 。", "zh_CN", ["space next to full-width punctuation"]),
    ("号码,已停机", "zh_CN", ["half-width punctuation in Chinese"]),
    ("号码 +33612345678 已停机", "zh_CN", []),  # on a page: a space stands in for the gap between scripts
])
def test_the_checker_finds_what_it_should(text: str, language: str, expected: list[str]) -> None:
    assert [found.split(":")[0] for found in problems(text, language)] == [e.split(":")[0] for e in expected]


def test_in_a_chinese_message_no_space_touches_chinese() -> None:
    assert [p.split(":")[0] for p in problems("号码 +33612345678 已停机", "zh_CN", message=True)] == [
        "space next to Chinese in a message", "space next to Chinese in a message"]
