"""The thermal receipt (an 80 mm roll, 72 mm printed) beside the A4 one: its size, what it says in each language,
the QR code read back from the printed page, VOID once the counter sale is voided (on both layouts and on the check
page), and each layout stored once and rendered again only once after a void."""

from __future__ import annotations

import io
import re
import subprocess
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import segno
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select
from weasyprint.formatting_structure import boxes

from simkeep.receipt import pdf
from simkeep.receipt import service as receipts
from simkeep.receipt.models import Receipt, ReceiptPdf
from simkeep.store import service as stores
from tests.conftest import T0
from tests.factories.lines import make_line, top_up
from tests.factories.staff import make_staff
from tests.factories.stores import make_store, open_drawer, sell, seller

MM = 72 / 25.4  # PDF points per millimetre
URL = ("https://recharge.simkeep-operator.example.com/receipts/"
       "0f6d5c1e9a8b4c7d8e2f3a4b5c6d7e8f.Jq3kX9vR2mWbT7yHn4LpZs1c8dE")
OPERATOR = SimpleNamespace(brand="Orange", product="Mobicarte", timezone="Europe/Paris")
ISSUER = {"store": "Tabac de Belleville", "address": "12 rue de Belleville, 75020 Paris", "agent": "li"}
# What the roll says, as the reader of each language reads it (the amount, the validity end in Paris time).
SAYS = {
    "zh_CN": ["收据", "号码 +336******78", "支付方式 现金", "有效期至 2027年4月14日", "经办人 li", "金额 €10.00"],
    "fr": ["Reçu", "Numéro +336******78", "Moyen de paiement Espèces", "Valable jusqu'au 14 avril 2027",
           "Servi par li", "Montant 10,00 €"],
    "en": ["Receipt", "Number +336******78", "Payment method Cash", "Valid until April 14, 2027", "Served by li",
           "Amount €10.00"],
}
VOID_WORD = {"zh_CN": "已作废", "fr": "ANNULÉ", "en": "VOID"}


def receipt(language: str, *, voided_at: datetime | None = None, issuer: dict | None = ISSUER) -> SimpleNamespace:
    return SimpleNamespace(number="FR-ORANGE-MOBICARTE-2027-000001", msisdn="+33612345678", payment_method="cash",
                           issued_at=datetime(2027, 3, 4, 10, 30, tzinfo=UTC), amount_minor=1000, currency="EUR",
                           validity_ends_at=datetime(2027, 4, 14, 22, 0, tzinfo=UTC), language=language,
                           voided_at=voided_at, issuer=issuer)


def thermal(language: str, **kwargs) -> bytes:
    return pdf.render_pdf(receipt(language, **kwargs), OPERATOR, validity_days=30, verify_url=URL,
                          language=language, layout="thermal")


def pdftotext(content: bytes, *args: str) -> str:
    return subprocess.run(["pdftotext", *args, "-", "-"], input=content, capture_output=True, check=True
                          ).stdout.decode()


def lines_of(content: bytes) -> list[str]:
    """The text's lines, spaces made plain (how a no-break space comes out varies by font)."""
    return [re.sub(r"[ \t\u00a0\u202f]+", " ", line).strip() for line in pdftotext(content, "-layout").splitlines()]


def media_box(content: bytes) -> tuple[float, float, int]:
    pages = PdfReader(io.BytesIO(content)).pages
    box = pages[0].mediabox
    return float(box.width), float(box.height), len(pages)


@pytest.mark.parametrize("language", ["zh_CN", "fr", "en"])
def test_the_roll_is_80_mm_wide_one_page_and_as_long_as_its_content(language: str) -> None:
    content = thermal(language)
    width, height, pages = media_box(content)
    assert pages == 1
    assert abs(width - 80 * MM) <= 0.5
    assert 100 * MM < height < 400 * MM
    # The last words printed (the verify link) end just above the bottom margin (5 mm): no blank tail, nothing cut.
    bottoms = [float(m) for m in re.findall(r'yMax="([\d.]+)"', pdftotext(content, "-bbox"))]
    assert height - 5 * MM - 3 * MM < max(bottoms) <= height - 5 * MM + 0.5


@pytest.mark.parametrize("language", ["zh_CN", "fr", "en"])
def test_the_roll_says_the_number_amount_store_and_agent_in_the_receipts_language(language: str) -> None:
    lines = lines_of(thermal(language))
    assert "FR-ORANGE-MOBICARTE-2027-000001" in lines
    assert {"Orange — Mobicarte", "Tabac de Belleville", "12 rue de Belleville, 75020 Paris"} <= set(lines)
    for said in SAYS[language]:
        assert said in lines, (said, lines)
    assert not any(VOID_WORD[language] in line for line in lines)
    chinese = [line for line in lines if re.search(r"[\u4e00-\u9fff]", line)]
    assert bool(chinese) == (language == "zh_CN")


def test_an_online_receipt_prints_no_store_and_no_agent() -> None:
    lines = lines_of(thermal("en", issuer=None))
    assert "Tabac de Belleville" not in lines and not any(line.startswith("Served by") for line in lines)
    assert "Amount €10.00" in lines


def qr_modules(content: bytes, document, tmp_path: Path, dpi: int = 300) -> list[list[bool]]:
    """The QR code as printed: the page rasterised by poppler, each module's centre read dark or light. Where the
    image sits comes from the laid-out boxes; segno's SVG has a 4-module quiet zone."""
    page = document.pages[0]._page_box
    (image,) = [b for b in page.descendants() if isinstance(b, boxes.InlineReplacedBox)]
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", "-singlefile", "-", str(tmp_path / "page")],
                   input=content, check=True)
    raster = Image.open(tmp_path / "page.png").convert("L")
    scale = dpi / 96  # CSS px to raster pixels
    x0, y0 = image.content_box_x() * scale, image.content_box_y() * scale
    side = image.width * scale
    size = segno.make(URL, error="m").symbol_size(scale=1)[0]  # modules with the quiet zone
    step = side / size
    return [[raster.getpixel((int(x0 + (col + 0.5) * step), int(y0 + (row + 0.5) * step))) < 128
             for col in range(size)] for row in range(size)]


def test_the_qr_code_printed_on_the_roll_encodes_the_verify_link(tmp_path: Path) -> None:
    document = pdf.document(receipt("fr"), OPERATOR, validity_days=30, verify_url=URL, language="fr",
                            layout="thermal")
    printed = qr_modules(document.write_pdf(), document, tmp_path)

    def with_quiet_zone(url: str) -> list[list[bool]]:
        matrix = [[bool(m) for m in row] for row in segno.make(url, error="m").matrix]
        blank = [False] * (len(matrix) + 8)
        return [blank] * 4 + [[False] * 4 + row + [False] * 4 for row in matrix] + [blank] * 4

    assert printed == with_quiet_zone(URL)
    assert printed != with_quiet_zone(URL.replace("receipts", "receipt5"))  # the comparison can tell links apart


@pytest.mark.parametrize("language", ["zh_CN", "fr", "en"])
def test_a_voided_receipt_says_void_on_both_layouts(language: str) -> None:
    voided = datetime(2027, 3, 4, 10, 40, tzinfo=UTC)
    for layout in receipts.LAYOUTS:
        content = pdf.render_pdf(receipt(language, voided_at=voided), OPERATOR, validity_days=30, verify_url=URL,
                                 language=language, layout=layout)
        lines = lines_of(content)
        assert VOID_WORD[language] in lines, (layout, lines)
        assert any("11:40" in line for line in lines), lines  # 10:40 UTC, in Paris


def test_a_live_a4_receipt_is_laid_out_as_before() -> None:
    """The A4 sheet of a live sale is the same HTML whether or not the receipt object knows of voids and issuers."""
    plain = SimpleNamespace(**{k: v for k, v in vars(receipt("fr")).items() if k not in ("voided_at", "issuer")})
    plain.payment_method = "card"
    both = receipt("fr")
    both.payment_method = "card"
    html = pdf.html(plain, OPERATOR, validity_days=30, verify_url=URL, language="fr")
    assert html == pdf.html(both, OPERATOR, validity_days=30, verify_url=URL, language="fr")
    assert "ANNULÉ" not in html and "Tabac" not in html and "A5" in html
    width, height, pages = media_box(pdf.render_pdf(plain, OPERATOR, validity_days=30, verify_url=URL,
                                                    language="fr"))
    assert (round(width / MM), round(height / MM), pages) == (148, 210, 1)


def test_an_unknown_layout_is_refused() -> None:
    with pytest.raises(receipts.LayoutUnknown):
        pdf.html(receipt("en"), OPERATOR, validity_days=30, verify_url=URL, language="en", layout="letter")
    with pytest.raises(receipts.LayoutUnknown):
        receipts.reprint_url("k", uuid.uuid4(), layout="letter")


# -- a counter sale, served, voided, served again ------------------------------------------------------------------

WINDOW = timedelta(minutes=15)


@pytest.fixture
def renders(monkeypatch) -> list[tuple[str, str]]:
    """Every render's (layout, verify URL), in order."""
    seen: list[tuple[str, str]] = []
    real = pdf.render_pdf
    gate = threading.Lock()

    def counting(*args, **kwargs):
        with gate:
            seen.append((kwargs["layout"], kwargs["verify_url"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(pdf, "render_pdf", counting)
    return seen


@pytest.fixture
def counter_sale(db, settings):
    make_line(db, now=T0)
    store = make_store(db, now=T0)
    agent = seller(store, make_staff(db, settings, username="li", role="agent", store_id=store.id, now=T0))
    manager = seller(store, make_staff(db, settings, username="marie", role="store_manager", store_id=store.id,
                                       now=T0))
    open_drawer(db, agent, now=T0)
    sale = sell(db, agent, now=T0 + timedelta(minutes=1)).outcome()
    return store, manager, sale


def stored(db) -> list[tuple[str, bool]]:
    with db.transaction(write=False) as session:
        return sorted((layout, voided) for layout, voided in session.execute(select(ReceiptPdf.layout, ReceiptPdf.voided)))


def test_a_counter_sale_records_its_store_and_agent_on_the_receipt(db, counter_sale):
    _store, _manager, sale = counter_sale
    with db.transaction(write=False) as session:
        row = session.get(Receipt, sale.receipt_id)
    assert row.issuer == ISSUER
    assert (row.payment_method, row.language, row.voided_at) == ("cash", "fr", None)


def test_each_layout_is_stored_once_and_rendered_once_more_after_a_void(client, settings, db, counter_sale,
                                                                        renders):
    store, manager, sale = counter_sale
    token = receipts.token_for(settings.key("receipt"), sale.receipt_id)
    verify_url = f"{settings.base_url}/receipts/{token}"
    roll = f"/receipts/{token}.pdf?format=thermal"
    first = [client.get(roll) for _ in range(3)]
    assert [r.status_code for r in first] == [200] * 3 and len({r.content for r in first}) == 1
    assert first[0].headers["content-type"] == "application/pdf"
    assert first[0].headers["content-disposition"] == (
        'inline; filename="FR-ORANGE-MOBICARTE-2027-000001-thermal.pdf"')
    assert abs(media_box(first[0].content)[0] - 80 * MM) <= 0.5
    lines = lines_of(first[0].content)
    assert {"Tabac de Belleville", "12 rue de Belleville, 75020 Paris", "Servi par li", "Montant 10,00 €",
            "Moyen de paiement Espèces", "FR-ORANGE-MOBICARTE-2027-000001"} <= set(lines)
    sheet = client.get(f"/receipts/{token}.pdf")
    assert sheet.status_code == 200 and abs(media_box(sheet.content)[0] - 148 * MM) <= 0.5
    assert client.get(f"/receipts/{token}.pdf?format=a4").content == sheet.content
    assert renders == [("thermal", verify_url), ("a4", verify_url)]
    assert stored(db) == [("a4", False), ("thermal", False)]

    with db.transaction() as session:
        stores.void(session, sale_id=sale.id, store_id=store.id, by=manager.actor, reason="wrong number",
                    now=T0 + timedelta(minutes=10), window=WINDOW)
    again = [client.get(roll) for _ in range(3)]
    assert len({r.content for r in again}) == 1 and again[0].content != first[0].content
    voided_lines = lines_of(again[0].content)
    assert "ANNULÉ" in voided_lines and "Vente annulée le 1 mars 2027 10:10." in voided_lines, voided_lines
    voided_sheet = client.get(f"/receipts/{token}.pdf").content
    assert voided_sheet != sheet.content and "ANNULÉ" in lines_of(voided_sheet)
    assert client.get(f"/receipts/{token}.pdf").content == voided_sheet
    assert renders[2:] == [("thermal", verify_url), ("a4", verify_url)]
    assert stored(db) == [("a4", True), ("thermal", True)]
    # The QR code of a voided receipt still leads to its check page, which says VOID.
    printed_link = "".join(voided_lines[voided_lines.index("Scannez pour vérifier ce reçu") + 1:])
    assert printed_link == verify_url
    page = client.get(printed_link.removeprefix(settings.base_url) + "?lang=fr")
    assert page.status_code == 200 and "ANNULÉ" in page.text


def test_an_unknown_format_renders_nothing(client, settings, db, counter_sale, renders):
    _store, _manager, sale = counter_sale
    token = receipts.token_for(settings.key("receipt"), sale.receipt_id)
    for bad in ("letter", "THERMAL", "", "a4%00"):
        assert client.get(f"/receipts/{token}.pdf?format={bad}").status_code == 422
    assert renders == [] and stored(db) == []


CHECK_PAGE = {
    "en": ["VOID", "This receipt is genuine, but the sale was voided.",
           "The sale was voided on Mar 1, 2027 10:10\u202fAM: the renewal it paid for was cancelled"],
    "fr": ["ANNULÉ", "Ce reçu est authentique, mais la vente a été annulée.",
           "La vente a été annulée le 1 mars 2027 10:10\u00a0: la recharge qu'elle payait est annulée"],
    "zh_CN": ["已作废", "本收据真实有效，但该笔交易已作废。", "该笔交易已于 2027年3月1日 10:10 作废"],
}


@pytest.mark.parametrize("language", ["en", "fr", "zh_CN"])
def test_the_check_page_says_when_the_sale_was_voided(client, settings, db, counter_sale, language):
    store, manager, sale = counter_sale
    token = receipts.token_for(settings.key("receipt"), sale.receipt_id)
    live = client.get(f"/receipts/{token}?lang={language}")
    assert live.status_code == 200 and CHECK_PAGE[language][0] not in live.text
    assert 'class="result ok"' in live.text and "Tabac de Belleville" in live.text
    with db.transaction() as session:
        stores.void(session, sale_id=sale.id, store_id=store.id, by=manager.actor, reason="wrong number",
                    now=T0 + timedelta(minutes=10), window=WINDOW)
    page = client.get(f"/receipts/{token}?lang={language}")
    assert page.status_code == 200 and 'class="result failed voided"' in page.text
    for said in CHECK_PAGE[language]:
        assert said in page.text, (said, page.text)


def test_reprint_links_to_the_stored_thermal_pdf(client, settings, db, counter_sale, renders):
    _store, _manager, sale = counter_sale
    key = settings.key("receipt")
    token = receipts.token_for(key, sale.receipt_id)
    assert receipts.reprint_url(key, sale.receipt_id) == f"/receipts/{token}.pdf?format=thermal"
    assert receipts.reprint_url(key, sale.receipt_id, layout="a4", base_url="https://x.example") == (
        f"https://x.example/receipts/{token}.pdf")
    printed = client.get(receipts.reprint_url(key, sale.receipt_id)).content
    assert client.get(receipts.reprint_url(key, sale.receipt_id)).content == printed
    assert abs(media_box(printed)[0] - 80 * MM) <= 0.5 and len(renders) == 1


def test_a_copy_without_void_never_replaces_one_with_it(db):
    line = make_line(db, now=T0)
    topup = top_up(db, now=T0).topup
    with db.transaction() as session:
        issued = receipts.issue(session, receipt_id=uuid.uuid4(), topup=topup, operator_id=line.operator_id,
                                line_id=line.id, payment_method="card", language="en", now=T0)
        assert issued.issuer is None
        for url, voided, content in (("u1", False, b"live"), ("u1", True, b"void"), ("u1", False, b"late live"),
                                     ("u2", False, b"late live, new link")):
            receipts.store_pdf(session, receipt_id=issued.id, layout="thermal", verify_url=url, voided=voided,
                               content=content, now=T0)
        assert receipts.stored_pdf(session, issued.id, "thermal").content == b"void"
        receipts.store_pdf(session, receipt_id=issued.id, layout="thermal", verify_url="u2", voided=True,
                           content=b"void, new link", now=T0)
        assert receipts.stored_pdf(session, issued.id, "thermal").content == b"void, new link"
        assert receipts.stored_pdf(session, issued.id, "a4") is None
        assert session.scalar(select(func.count()).select_from(ReceiptPdf)) == 1


@pytest.mark.parametrize("language,tag", [("zh_CN", "zh-CN"), ("fr", "fr"), ("en", "en")])
def test_the_roll_is_tagged_pdf_ua_like_the_sheet(language: str, tag: str) -> None:
    from simkeep.locale import languages
    from tests.receipt.test_pdf_tags import structure

    root = PdfReader(io.BytesIO(thermal(language))).trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"].value is True and root["/Lang"] == tag
    names = [name for name, _ in structure(root["/StructTreeRoot"])]
    assert names.count("/H1") == 1 and names.count("/TH") == 7 and names.count("/TD") == 7  # with "Served by"
    assert [alt for name, alt in structure(root["/StructTreeRoot"]) if name == "/Figure"] == [
        languages.gettext(language, "QR code to scan")]
