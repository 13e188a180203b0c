"""The batch export's files: the printer's CSV and the PDF sheet of cards (what each card says, in three languages,
and a QR code that opens the portal with the PIN filled in), and the zip the back office hands out once."""

from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import segno
from pypdf import PdfReader

from simkeep.voucher import export, pins

BASE = "https://recharge.example.com"
CARDS = [(100_000_000_001 + i, pins.new_pin()) for i in range(10)]


def batch(quantity: int = 10) -> SimpleNamespace:
    # The last day is 31 Dec 2027 in Paris: the cards expire at the following local midnight (23:00 UTC).
    return SimpleNamespace(id=uuid.UUID("01a22a08-6002-7e84-b099-c391d93a5214"), offer_id="fr-orange-mobicarte-10",
                           face_value_minor=1000, currency="EUR", validity_days=30, serial_from=100_000_000_001,
                           serial_to=100_000_000_000 + quantity, quantity=quantity,
                           expires_at=datetime(2027, 12, 31, 23, 0, tzinfo=UTC),
                           created_at=datetime(2027, 3, 1, 9, 0, tzinfo=UTC), exported_at=None)


def flat(text: str) -> str:
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


@pytest.fixture(scope="module")
def sheet() -> bytes:
    return export.pdf_bytes(batch(), CARDS, base_url=BASE, offer_name="Orange Mobicarte", hotline="+33 1 23 45 67 89",
                            timezone="Europe/Paris")


def test_the_sheet_is_a4_with_eight_cards_a_page(sheet):
    reader = PdfReader(io.BytesIO(sheet))
    assert sheet.startswith(b"%PDF") and len(reader.pages) == 2
    width, height = (float(v) * 25.4 / 72 for v in reader.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (210, 297)


def test_each_card_has_its_serial_its_grouped_pin_and_how_to_redeem_it_in_three_languages(sheet):
    pages = [flat(page.extract_text()) for page in PdfReader(io.BytesIO(sheet)).pages]
    text = " ".join(pages)
    for serial, pin in CARDS:
        assert str(serial) in text and pins.grouped(pin) in text
    assert str(CARDS[8][0]) in pages[1] and str(CARDS[7][0]) in pages[0]
    per_card = {
        "zh": "充值卡面值 €10.00，有效期 30 天。请于2027年12月31日前（含当日）使用：扫描二维码，或打开 "
              "https://recharge.example.com/renew/card 输入充值密码。客服：+33 1 23 45 67 89",
        "fr": "Ticket de recharge de 10,00 €, 30 jours de validité. À utiliser au plus tard le 31 décembre 2027 : "
              "scannez le code QR, ou ouvrez https://recharge.example.com/renew/card et tapez le code. "
              "Aide : +33 1 23 45 67 89",
        "en": "Recharge card worth €10.00, 30 days of validity. Use it by December 31, 2027: scan the QR code, or "
              "open https://recharge.example.com/renew/card and type the PIN. Help: +33 1 23 45 67 89",
    }
    for language, sentence in per_card.items():
        # The text layer breaks lines where the card does: compare without line breaks and spaces.
        assert text.replace(" ", "").count(flat(sentence).replace(" ", "")) == 10, language
    assert text.count("充值密码 · Code de recharge · Recharge PIN") == 10
    assert text.count("序列号 · N° de série · Serial number") == 10
    assert text.count("Orange Mobicarte") == 10


def test_the_qr_code_of_each_card_opens_the_portal_with_its_pin(sheet):
    """Read back from the PDF's images, module by module (one pixel each, drawn without interpolation)."""
    images = {image.name: image.image for page in PdfReader(io.BytesIO(sheet)).pages for image in page.images}
    found = set()
    for image in images.values():
        grey = image.convert("L")
        found.add(tuple(tuple(grey.getpixel((x, y)) < 128 for x in range(grey.width)) for y in range(grey.height)))
    expected = {tuple(tuple(bool(cell) for cell in row) for row in segno.make(
        pins.redeem_url(BASE, pin), error="m").matrix_iter(scale=1, border=2)) for _serial, pin in CARDS}
    assert found == expected
    assert pins.redeem_url(BASE, CARDS[0][1]) == f"{BASE}/renew/card#pin={CARDS[0][1]}"


def test_without_a_hotline_the_cards_say_nothing_about_help():
    text = flat(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(
        export.pdf_bytes(batch(1), CARDS[:1], base_url=BASE, offer_name="Orange Mobicarte"))).pages))
    assert "Help" not in text and "Aide" not in text and "客服" not in text


def test_a_sheet_of_more_cards_than_the_limit_is_refused_before_any_work():
    many = [(100_000_000_001 + i, "0" * 15) for i in range(export.PDF_LIMIT + 1)]
    with pytest.raises(export.TooManyCardsForPdf) as refused:
        export.pdf_bytes(batch(len(many)), many, base_url=BASE, offer_name="Orange Mobicarte")
    assert refused.value.message == "A PDF sheet holds at most 1,000 cards: print larger batches from the CSV."
    assert refused.value.status == 422


def test_the_zip_holds_the_csv_and_the_sheet_or_past_the_limit_the_csv_and_a_note():
    small = zipfile.ZipFile(io.BytesIO(export.zip_bytes(batch(2), CARDS[:2], BASE, offer_name="Orange Mobicarte")))
    assert small.namelist() == ["vouchers-100000000001-100000000002.csv", "vouchers-100000000001-100000000002.pdf"]
    rows = list(csv.reader(io.StringIO(small.read("vouchers-100000000001-100000000002.csv").decode())))
    assert rows[0] == list(export.CSV_HEADER)
    assert rows[1] == ["100000000001", CARDS[0][1], pins.grouped(CARDS[0][1]), "fr-orange-mobicarte-10", "10.00",
                       "EUR", "30", "2027-12-31", "01a22a08-6002-7e84-b099-c391d93a5214"]
    many = [(100_000_000_001 + i, pins.new_pin()) for i in range(export.PDF_LIMIT + 1)]
    large = zipfile.ZipFile(io.BytesIO(export.zip_bytes(batch(len(many)), many, BASE)))
    assert large.namelist() == ["vouchers-100000000001-100000001001.csv", "README.txt"]
    assert len(large.read("vouchers-100000000001-100000001001.csv").decode().splitlines()) == export.PDF_LIMIT + 2
    assert large.read("README.txt").decode().startswith("This batch has more than 1,000 cards: no PDF sheet")
