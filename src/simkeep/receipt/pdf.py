"""Receipt PDFs with WeasyPrint; Chinese text needs a CJK font (Debian's fonts-noto-cjk).

Every receipt has two layouts: "a4" (receipt/pdf.html, the sheet the portal offers) and "thermal" (receipt/thermal/
pdf.html, an 80 mm roll with 72 mm printed, for the counter's receipt printer). A roll is as long as its content:
WeasyPrint needs a page size, so the thermal receipt is laid out once on a long page, the height its content takes is
measured from the laid-out boxes, and it is laid out again on a page exactly that tall.

A PDF is rendered once per receipt and layout (and per link printed in it, and once more when the sale is voided, to
say VOID) and then served from the receipt_pdfs table:
rendering takes a CPU for a good fraction of a second and the link needs no sign-in, so rendering per request
would let anyone holding one link keep a server busy. It is rendered on the first request rather than when the
receipt is issued: issuing happens inside the money transaction (a payment's webhook, a top-up), which must stay
short, and most receipts are never downloaded. Concurrent first requests in one process wait on a lock and the
later ones find the stored copy; across processes the first stored copy wins (INSERT ... ON CONFLICT DO NOTHING)
and everyone serves it, so the bytes are always the same.
"""

from __future__ import annotations

import math
import threading
import zlib

import segno
from weasyprint import HTML

from simkeep.core import clock
from simkeep.core.phone import masked
from simkeep.db import Database
from simkeep.locale import languages
from simkeep.receipt import service as receipts
from simkeep.web import i18n

_LOCKS = tuple(threading.Lock() for _ in range(64))  # striped by receipt id: bounded, no per-receipt bookkeeping
# PDF/UA-1: tagged (the heading, the table with its row headers, the QR code with its text), with the language and
# the title that screen readers announce.
PDF_VARIANT = "pdf/ua-1"


TEMPLATES = {receipts.A4: "receipt/pdf.html", receipts.THERMAL: "receipt/thermal/pdf.html"}
ROLL_WIDTH_MM = 80
# The thermal receipt's first layout: a page longer than any receipt, whose content height is then measured.
_PROBE_HEIGHT_MM = 2000
_MM_PER_PX = 25.4 / 96  # WeasyPrint lays out in CSS pixels


def render_pdf(receipt, operator, *, validity_days: int, verify_url: str, language: str,
               layout: str = receipts.A4) -> bytes:
    return document(receipt, operator, validity_days=validity_days, verify_url=verify_url, language=language,
                    layout=layout).write_pdf(pdf_variant=PDF_VARIANT)


def qr_svg(verify_url: str) -> str:
    """The verification link as a QR code (an SVG data URI), as every layout prints it."""
    return segno.make(verify_url, error="m").svg_data_uri(scale=4)


def html(receipt, operator, *, validity_days: int, verify_url: str, language: str, layout: str = receipts.A4,
         roll_height_mm: float | None = None) -> str:
    """The receipt's HTML in one layout: in the receipt's language, formats as a message to the same number would
    write them."""
    if layout not in TEMPLATES:
        raise receipts.LayoutUnknown()
    reader = languages.for_number(language, receipt.msisdn)
    voided_at = getattr(receipt, "voided_at", None)
    extra = {}
    if layout == receipts.THERMAL:
        extra = dict(roll_height=f"{roll_height_mm or _PROBE_HEIGHT_MM:.1f}mm",
                     issuer=getattr(receipt, "issuer", None), voided_at=voided_at)
    elif voided_at is not None:  # an A4 receipt of a live sale stays as it always was
        extra = dict(voided_at=voided_at)
    return i18n.environment(reader.language).get_template(TEMPLATES[layout]).render(
        receipt=receipt, operator=operator, validity_days=validity_days, qr=qr_svg(verify_url),
        verify_url=verify_url, masked=masked(receipt.msisdn), format_locale=reader.locale, **extra)


def document(receipt, operator, *, validity_days: int, verify_url: str, language: str, layout: str = receipts.A4):
    """The laid-out receipt (WeasyPrint's Document). A thermal receipt is laid out twice: on a long roll to measure
    its content, then on a roll just that long (one page)."""
    def laid_out(roll_height_mm: float | None = None):
        return HTML(string=html(receipt, operator, validity_days=validity_days, verify_url=verify_url,
                                language=language, layout=layout, roll_height_mm=roll_height_mm)
                    ).render(pdf_variant=PDF_VARIANT)

    first = laid_out()
    if layout != receipts.THERMAL:
        return first
    return laid_out(content_height_mm(first))


def content_height_mm(document) -> float:
    """How long a roll the first page's content needs: from the page's top edge to the bottom of the root element's
    margin box, plus the page's bottom margin; rounded up to a tenth of a millimetre."""
    page = document.pages[0]._page_box
    root = page.children[0]
    bottom = root.position_y + root.margin_height() + page.margin_bottom
    return math.ceil(bottom * _MM_PER_PX * 10) / 10


def stored_or_render(db: Database, receipt, operator, *, validity_days: int, verify_url: str,
                     layout: str = receipts.A4) -> bytes:
    """The receipt's PDF in `layout` from storage; rendered (once) and stored when missing, printed with another
    link, or not saying VOID for a receipt voided since."""
    if layout not in TEMPLATES:
        raise receipts.LayoutUnknown()
    voided = getattr(receipt, "voided_at", None) is not None

    def stored() -> bytes | None:
        with db.transaction(write=False) as session:
            row = receipts.stored_pdf(session, receipt.id, layout)
            if row is None or row.verify_url != verify_url or row.voided != voided:
                return None
            return row.content

    content = stored()
    if content is not None:
        return content
    with _LOCKS[zlib.crc32(receipt.id.bytes) % len(_LOCKS)]:
        content = stored()
        if content is not None:
            return content
        rendered = render_pdf(receipt, operator, validity_days=validity_days, verify_url=verify_url,
                              language=receipt.language, layout=layout)
        with db.transaction() as session:
            receipts.store_pdf(session, receipt_id=receipt.id, layout=layout, verify_url=verify_url,
                               voided=voided, content=rendered, now=clock.now())
    return stored() or rendered
