"""What the receipt PDF says and where: each row labelled for what it holds in every language, formats as the
number's region writes them, and the long verify link wrapped inside the page (never past its margin)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from pypdf import PdfReader
from weasyprint.formatting_structure import boxes

from simkeep.receipt import pdf

# A long but real-looking link: a deployment's own host, a 32-hex receipt id and its signature.
URL = ("https://recharge.simkeep-operator.example.com/receipts/"
       "0f6d5c1e9a8b4c7d8e2f3a4b5c6d7e8f.Jq3kX9vR2mWbT7yHn4LpZs1c8dE")
OPERATOR = SimpleNamespace(brand="Orange", product="Mobicarte", timezone="Europe/Paris")

# (label, value) of each row, as the reader of that language reads them.
ROWS = {
    "zh_CN": [("号码", "+336******78"), ("充值项目", "有效期 30 天"), ("支付方式", "银行卡"),
              ("支付时间", "2027年3月4日 11:30"), ("有效期至", "2027年4月14日"), ("金额", "€10.00")],
    "fr": [("Numéro", "+336******78"), ("Offre", "30 jours de validité"), ("Moyen de paiement", "Carte bancaire"),
           ("Payé le", "4 mars 2027 11:30"), ("Valable jusqu'au", "14 avril 2027"), ("Montant", "10,00\u00a0€")],
    "en": [("Number", "+336******78"), ("Offer", "30 days of validity"), ("Payment method", "Bank card"),
           ("Paid on", "Mar 4, 2027 11:30\u202fAM"), ("Valid until", "April 14, 2027"), ("Amount", "€10.00")],
}


def receipt(language: str, msisdn: str = "+33612345678") -> SimpleNamespace:
    return SimpleNamespace(number="FR-ORANGE-MOBICARTE-2027-000001", msisdn=msisdn, payment_method="card",
                           issued_at=datetime(2027, 3, 4, 10, 30, tzinfo=UTC), amount_minor=1000, currency="EUR",
                           validity_ends_at=datetime(2027, 4, 14, 22, 0, tzinfo=UTC), language=language)


def text_of(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def lines_of(content: bytes) -> list[str]:
    """Each line with its spaces made plain: how the PDF's text layer writes a no-break space varies by font."""
    return [flat(line).strip() for line in text_of(content).splitlines()]


def flat(text: str) -> str:
    return re.sub(r"[ \t\u00a0\u202f]+", " ", text)


@pytest.mark.parametrize("language", ["zh_CN", "fr", "en"])
def test_each_row_is_labelled_for_what_it_holds(language: str) -> None:
    content = pdf.render_pdf(receipt(language), OPERATOR, validity_days=30, verify_url=URL, language=language)
    lines = lines_of(content)
    for label, value in ROWS[language]:
        assert flat(f"{label} {value}") in lines, (label, lines)
    if language == "zh_CN":
        assert "面额" not in "".join(lines)  # "face value": what the wizard's amount step is, not this row


@pytest.mark.parametrize("language", ["zh_CN", "fr", "en"])
def test_the_verify_link_wraps_inside_the_page(language: str) -> None:
    document = pdf.document(receipt(language), OPERATOR, validity_days=30, verify_url=URL, language=language)
    assert len(document.pages) == 1
    page = document.pages[0]._page_box
    body = page.children[0]
    right = body.content_box_x() + body.width  # the right margin starts here
    texts = [box for box in page.descendants() if isinstance(box, boxes.TextBox)]
    past = [(box.text, round(box.position_x + box.width - right, 1)) for box in texts
            if box.position_x + box.width > right + 0.01]
    assert past == []
    link = [text.text for span in page.descendants() if isinstance(span, boxes.InlineBox)
            and span.element is not None and span.element.get("class") == "link"
            for text in span.descendants() if isinstance(text, boxes.TextBox)]
    assert len(link) >= 2 and "".join(link) == URL  # wrapped, one piece per line, every character there
    # And as a reader's PDF tool finds it: the whole link, over more than one line.
    printed = text_of(document.write_pdf())
    assert URL in re.sub(r"\s+", "", printed)
    assert URL not in printed.splitlines()


def test_formats_follow_the_region_of_the_number() -> None:
    """An English receipt of a British number writes British dates and times."""
    content = pdf.render_pdf(receipt("en", msisdn="+447400123456"), OPERATOR, validity_days=30, verify_url=URL,
                             language="en")
    lines = lines_of(content)
    assert "Valid until 14 April 2027" in lines and "Paid on 4 Mar 2027 11:30" in lines, lines
