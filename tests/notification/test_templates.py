"""Message texts in zh_CN, fr and en; SMS encoding and segment counts; the back-office preview page."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from simkeep.main import create_app
from simkeep.notification import segments, templates
from simkeep.notification.segments import GSM7, UCS2, analyse, gsm7_codes, segment_count, split
from tests.factories import staff

CJK = re.compile(r"[\u4e00-\u9fff]")
RENEW = "https://simkeep.test/recharge?msisdn=%2B33612345678"
FIVE = {"id": "fr-orange-mobicarte-5", "amount": {"amount_minor": 500, "currency": "EUR"}, "validity_days": 7}
# Lost at the start of 13 March 2027, Paris time: 12 March is the last day the number is kept.
REMINDER = {"msisdn": "+33612345678", "number_loss_at": "2027-03-12T23:00:00+00:00", "timezone": "Europe/Paris",
            "renew_url": RENEW, "state": "grace", "cheapest_offer": FIVE}


def reminder(language: str, **changes) -> str:
    return templates.render("reminder", language, {**REMINDER, **changes})


# -- segments ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "encoding", "units", "count"), [
    ("", GSM7, 0, 1),
    ("a" * 160, GSM7, 160, 1),
    ("a" * 161, GSM7, 161, 2),
    ("a" * 306, GSM7, 306, 2),
    ("a" * 307, GSM7, 307, 3),
    ("€" * 80, GSM7, 160, 1),  # € is in the extension table: two septets each
    ("€" * 81, GSM7, 162, 2),
    ("[x]{y}|~^\\", GSM7, 18, 1),
    ("a" * 152 + "€" + "a" * 152, GSM7, 306, 3),  # an escape is never split: 152 | € + 151 | 1
    ("Ça coûte 5 €", UCS2, 12, 1),  # û is not GSM-7; in UCS-2 € is one unit
    ("ça", UCS2, 2, 1),  # only the capital Ç is in the GSM alphabet
    ("Ça, éèùìò àÄÖÑÜ ßøÅ £¥§¿¡ ΔΦΓΛΩΠΨΣΘΞ", GSM7, 36, 1),
    ("你" * 70, UCS2, 70, 1),
    ("你" * 71, UCS2, 71, 2),
    ("你" * 134, UCS2, 134, 2),
    ("你" * 135, UCS2, 135, 3),
    ("😀" * 35, UCS2, 70, 1),  # outside the BMP: a surrogate pair, two units
    ("a" * 66 + "😀" * 3, UCS2, 72, 2),
])
def test_encoding_units_and_segments(text, encoding, units, count):
    sms = analyse(text)
    assert (sms.encoding, sms.units, sms.segments) == (encoding, units, count)
    assert "".join(sms.parts) == text and len(sms.parts) == count


def test_parts_respect_the_per_part_limits():
    assert [len(p) for p in split("a" * 400)] == [153, 153, 94]
    assert [len(p) for p in split("€" * 81)] == [76, 5]
    assert [len(p) for p in split("你" * 150)] == [67, 67, 16]
    assert [len(p) for p in split("a" * 66 + "😀" * 3)] == [66, 3]  # 66 + a pair would be 68 > 67
    assert segment_count("a" * 150 + "€" * 5) == 1 and segment_count("a" * 151 + "€" * 5) == 2


def test_typography_folds_to_gsm7_only_when_that_makes_the_text_gsm7():
    sms = analyse("Recharge de 10,00\u00a0€ \u2013 « merci »\u2026")
    assert (sms.text, sms.encoding, sms.units, sms.segments) == ('Recharge de 10,00 € - " merci "...', GSM7, 35, 1)
    chinese = analyse("充值 10,00\u00a0€")
    assert (chinese.text, chinese.encoding) == ("充值 10,00\u00a0€", UCS2)  # UCS-2 carries it as it is


def test_gsm7_codes_are_unpacked_septets_with_escapes():
    assert gsm7_codes("@£€a{") == bytes([0x00, 0x01, 0x1B, 0x65, 0x61, 0x1B, 0x28])
    with pytest.raises(ValueError):
        gsm7_codes("ç")


# -- reminders --------------------------------------------------------------------------------------------------

def test_reminder_in_english_says_what_happens_when_and_what_saves_it():
    assert reminder("en", days_before=3) == (
        "Your number +33612345678 will be lost for good at the end of March 12, 2027 (in 3 days) unless you "
        "recharge. For now the line can only receive calls. The smallest recharge that keeps it: €5.00 for 7 days. "
        f"Recharge: {RENEW}")


def test_reminder_in_french():
    assert reminder("fr", days_before=30, state="active") == (
        "Sans recharge, votre numéro +33612345678 sera définitivement perdu à la fin du 12 mars 2027 (dans 30 jours). "
        f"Recharge minimale pour le garder\u00a0: 5,00\u00a0€ pour 7 jours. Recharger\u00a0: {RENEW}")


def test_reminder_in_chinese():
    assert reminder("zh_CN", days_before=7, state="suspended") == (
        "如不充值，号码+33612345678将在2027年3月12日（7天后）结束后被永久回收。目前已双向停机。"
        f"保号最低充值€5.00（7天）。充值：{RENEW}")


def test_last_day_says_today_and_tomorrow_says_tomorrow():
    assert reminder("en", days_before=0, state="suspended") == (
        "Today, March 12, 2027, is the last day to keep your number +33612345678: unless you recharge, it will be "
        f"lost for good at midnight. The line is suspended. The smallest recharge that keeps it: €5.00 for 7 days. Recharge: {RENEW}")
    assert reminder("fr", days_before=0, state="active").startswith(
        "Aujourd'hui, 12 mars 2027, est le dernier jour pour garder votre numéro +33612345678\u00a0: sans recharge, il "
        "sera perdu à minuit. Recharge minimale")
    assert reminder("zh_CN", days_before=0, state="active").startswith(
        "今天（2027年3月12日）是保留号码+33612345678的最后一天：如不充值，号码将在今晚24点被永久回收。")
    assert "(tomorrow)" in reminder("en", days_before=1)
    assert "(demain)" in reminder("fr", days_before=1)
    assert "（明天）" in reminder("zh_CN", days_before=1)
    assert templates.subject("reminder", "en", {**REMINDER, "days_before": 0}) == (
        "Last day to keep your number +33612345678")
    assert templates.subject("reminder", "fr", {**REMINDER, "days_before": 3}) == (
        "Rechargez au plus tard le 12 mars 2027 pour garder votre numéro +33612345678")


def test_counts_agree_with_the_number():
    one_day = {**FIVE, "validity_days": 1}
    assert "€5.00 for 1 day." in reminder("en", days_before=7, cheapest_offer=one_day)
    assert "5,00\u00a0€ pour 1 jour." in reminder("fr", days_before=7, cheapest_offer=one_day)
    assert "(in 2 days)" in reminder("en", days_before=2) and "(dans 2 jours)" in reminder("fr", days_before=2)
    assert templates.count("minute", 1, "en") == "1 minute" and templates.count("day", 0, "fr") == "0 jour"
    assert templates.count("day", 2, "zh_CN") == "2天"
    assert templates.render("otp.code", "en", {"code": "123456", "minutes": 1}) == (
        "Your simkeep code is 123456. It is valid for 1 minute. Never share it.")
    assert templates.render("otp.code", "zh_CN", {"code": "123456", "minutes": 5}) == (
        "您的simkeep验证码为123456，5分钟内有效。请勿告诉他人。")


def test_without_an_offer_on_sale_the_reminder_still_links_to_the_renewal_page():
    text = reminder("en", days_before=7, cheapest_offer=None)
    assert "smallest" not in text and text.endswith(f"unless you recharge. For now the line can only receive calls. Recharge: {RENEW}")


def test_countdown_from_the_send_time_when_given():
    late = datetime(2027, 3, 11, 8, 0, tzinfo=UTC)  # the 3-day reminder went out two days late: 1 day left
    assert "(tomorrow)" in templates.render("reminder", "en", {**REMINDER, "days_before": 3}, now=late)
    assert "Today, March 12, 2027" in templates.render("reminder", "en", {**REMINDER, "days_before": 3},
                                                       now=datetime(2027, 3, 12, 22, 59, tzinfo=UTC))


def test_the_first_of_the_month_is_1er_in_french():
    text = templates.render("line.suspended", "fr", {"msisdn": "+33612345678", "timezone": "Europe/Paris",
                                                     "number_loss_at": "2027-03-01T23:00:00+00:00"})
    assert text == "Le +33612345678 est suspendu. Rechargez au plus tard le 1er mars 2027, sinon le numéro sera perdu."


def test_a_reminder_written_before_the_new_payload_still_renders():
    old = {"msisdn": "+33612345678", "operator_id": "fr-orange-mobicarte", "days_before": 7,
           "number_loss_at": "2027-03-12T23:00:00+00:00", "timezone": "Europe/Paris"}
    assert templates.render("reminder", "en", old) == (
        "Your number +33612345678 will be lost for good at the end of March 12, 2027 (in 7 days) unless you recharge.")


# -- other topics -----------------------------------------------------------------------------------------------

PAYMENT = {"msisdn": "+33612345678", "amount": {"amount_minor": 1000, "currency": "EUR"}, "method": "card",
           "failure": "card_declined"}


@pytest.mark.parametrize(("language", "text"), [
    ("en", "Your payment of €10.00 by bank card for +33612345678 did not go through (card declined). Nothing was "
           "charged and the line was not recharged."),
    ("fr", "Votre paiement de 10,00\u00a0€ par carte bancaire pour le +33612345678 n'a pas abouti (carte refusée). "
           "Rien n'a été débité et la ligne n'a pas été rechargée."),
    ("zh_CN", "您为号码+33612345678支付的€10.00（银行卡）未成功：银行卡被拒。未扣款，号码也未充值。"),
])
def test_payment_failed(language, text):
    assert templates.render("payment.failed", language, PAYMENT) == text


def test_payment_failed_reasons_and_methods():
    wechat = {**PAYMENT, "method": "wechat_pay", "failure": "approval_expired", "renew_url": RENEW}
    assert templates.render("payment.failed", "zh_CN", wechat) == (
        f"您为号码+33612345678支付的€10.00（微信支付）未成功：未在规定时间内完成。未扣款，号码也未充值。重新充值：{RENEW}")
    odd = {**PAYMENT, "method": "sepa_debit", "failure": "do_not_honor"}
    assert "by sepa_debit for" in templates.render("payment.failed", "en", odd)
    assert "(refused by the payment service)" in templates.render("payment.failed", "en", odd)
    assert templates.subject("payment.failed", "fr", PAYMENT) == "Votre paiement pour le +33612345678 n'a pas abouti"


def test_topup_confirmation_keeps_its_wording_and_adds_bonus_and_receipt():
    payload = {"msisdn": "+33612345678", "amount": {"amount_minor": 1000, "currency": "EUR"},
               "bonus": {"amount_minor": 200, "currency": "EUR"}, "validity_ends_at": "2027-04-14T22:00:00+00:00",
               "timezone": "Europe/Paris", "receipt_url": "https://simkeep.test/receipts/abc"}
    assert templates.render("topup.completed", "fr", payload) == (
        "Votre recharge de 10,00\u00a0€ sur le +33612345678 est effectuée. Votre ligne est valable jusqu'au "
        "14 avril 2027. Bonus\u00a0: 2,00\u00a0€. Justificatif\u00a0: https://simkeep.test/receipts/abc")
    no_bonus = {**payload, "bonus": {"amount_minor": 0, "currency": "EUR"}}
    assert templates.render("topup.completed", "en", no_bonus) == (
        "Your top-up of €10.00 on +33612345678 is done. Your line is valid until April 14, 2027. "
        "Receipt: https://simkeep.test/receipts/abc")
    assert templates.subject("topup.completed", "zh_CN", payload) == "号码+33612345678已成功充值€10.00"


def test_unknown_language_falls_back_to_english_and_unknown_topic_to_its_name():
    assert templates.render("reminders.stopped", "de", {"msisdn": "+33612345678"}) == (
        "You will no longer receive reminders for +33612345678. Recharge in time to keep your number.")
    assert templates.render("mystery", "fr", {}) == "mystery"
    assert templates.subject("mystery", "fr", {}) == "simkeep"


# -- every template, every language -----------------------------------------------------------------------------

PREVIEWS = templates.previews("https://simkeep.example")


def test_every_topic_has_every_language_and_a_subject():
    assert {p.topic for p in PREVIEWS} == set(templates.TOPICS)
    for topic in templates.TOPICS:
        assert set(templates.TEXTS.get(topic, {})) == set(templates.LANGUAGES), topic
        assert set(templates.SUBJECTS[topic]) == set(templates.LANGUAGES), topic
    for table in (templates.PIECES, templates.SUBJECTS, templates.METHODS, templates.FAILURES):
        assert all(set(texts) == set(templates.LANGUAGES) for texts in table.values())


@pytest.mark.parametrize("preview", PREVIEWS, ids=lambda p: f"{p.topic}-{p.variant}-{p.language}")
def test_every_preview_renders_completely(preview):
    text = preview.sms.text
    assert text and "{" not in text and "}" not in text and "  " not in text
    assert preview.subject and "{" not in preview.subject and preview.subject != "simkeep"
    if preview.language == "zh_CN":
        assert CJK.search(text) and CJK.search(preview.subject) and preview.sms.encoding == UCS2
    else:
        # French and English stay in the GSM alphabet (after folding Babel's no-break spaces).
        assert preview.sms.encoding == GSM7, text
        assert not CJK.search(text)


def test_english_and_french_reminders_fit_two_segments():
    reminders = [p for p in PREVIEWS if p.topic == "reminder" and p.language in ("en", "fr")]
    assert len(reminders) == 18  # three of them name the cheapest plan for a year
    assert max(p.sms.segments for p in reminders) == 2, [(p.variant, p.language, p.sms.units) for p in reminders]


def test_a_long_chinese_reminder_travels_as_ucs2_parts():
    sms = templates.sms("reminder", "zh_CN", {**REMINDER, "days_before": 0, "state": "suspended"})
    assert (sms.encoding, sms.units, sms.segments) == (UCS2, 135, 3)
    assert [len(p) for p in sms.parts] == [67, 67, 1] and "".join(sms.parts) == sms.text
    assert segments.units(sms.text) == 135


# -- the back-office page ---------------------------------------------------------------------------------------

@pytest.fixture
def staff_client(db, settings):
    app = create_app(settings, db)
    if not any(getattr(r, "path", None) == "/admin/templates" for r in app.routes):
        from simkeep.admin.templates_pages import router

        app.include_router(router)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def sign_in(client: TestClient, db, settings) -> None:
    staff.sign_in(client, db, staff.make_staff(db, settings, username="mei", role="support"))


def test_templates_page_is_for_staff_only(staff_client):
    assert staff_client.get("/admin/templates").headers["location"] == "/admin"


@pytest.mark.parametrize("lang", ["en", "fr", "zh_CN"])
def test_templates_page_shows_every_template_in_every_language_with_segments(staff_client, db, settings, lang):
    sign_in(staff_client, db, settings)
    page = staff_client.get(f"/admin/templates?lang={lang}")
    assert page.status_code == 200
    shown = html.unescape(page.text)
    rows = re.findall(r'<tr class="preview" data-topic="([^"]+)" data-language="([^"]+)">\s*<td>[^<]*</td>\s*'
                      r'<td[^>]*>([^<]*)</td>\s*<td class="encoding">([^<]*)</td>\s*<td class="units">(\d+)</td>\s*'
                      r'<td class="segments">(\d+)</td>\s*<td[^>]*>([^<]*)</td>', page.text)
    expected = templates.previews(settings.base_url)
    assert [(t, lg, html.unescape(text), enc, int(units), int(count), html.unescape(subject))
            for t, lg, text, enc, units, count, subject in rows] == [
        (p.topic, p.language, p.sms.text, p.sms.encoding, p.sms.units, p.sms.segments, p.subject) for p in expected]
    assert {t for t, *_ in rows} == set(templates.TOPICS)
    assert "Signed in as mei." in shown or lang != "en"
