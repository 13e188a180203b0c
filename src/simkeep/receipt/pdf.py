"""Receipt PDFs with WeasyPrint; Chinese text needs a CJK font (Debian's fonts-noto-cjk).

A PDF is rendered once per receipt (and per link printed in it) and then served from the receipt_pdfs table:
rendering takes a CPU for a good fraction of a second and the link needs no sign-in, so rendering per request
would let anyone holding one link keep a server busy. It is rendered on the first request rather than when the
receipt is issued: issuing happens inside the money transaction (a payment's webhook, a top-up), which must stay
short, and most receipts are never downloaded. Concurrent first requests in one process wait on a lock and the
later ones find the stored copy; across processes the first stored copy wins (INSERT ... ON CONFLICT DO NOTHING)
and everyone serves it, so the bytes are always the same.
"""

from __future__ import annotations

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


def render_pdf(receipt, operator, *, validity_days: int, verify_url: str, language: str) -> bytes:
    return document(receipt, operator, validity_days=validity_days, verify_url=verify_url,
                    language=language).write_pdf(pdf_variant=PDF_VARIANT)


def document(receipt, operator, *, validity_days: int, verify_url: str, language: str):
    """The laid-out receipt (WeasyPrint's Document): in the receipt's language, formats as a message to the same
    number would write them."""
    reader = languages.for_number(language, receipt.msisdn)
    qr = segno.make(verify_url, error="m").svg_data_uri(scale=4)
    html = i18n.environment(reader.language).get_template("receipt/pdf.html").render(
        receipt=receipt, operator=operator, validity_days=validity_days, qr=qr, verify_url=verify_url,
        masked=masked(receipt.msisdn), format_locale=reader.locale)
    return HTML(string=html).render(pdf_variant=PDF_VARIANT)


def stored_or_render(db: Database, receipt, operator, *, validity_days: int, verify_url: str) -> bytes:
    """The receipt's PDF from storage; rendered (once) and stored when missing or printed with another link."""

    def stored() -> bytes | None:
        with db.transaction(write=False) as session:
            row = receipts.stored_pdf(session, receipt.id)
            return row.content if row is not None and row.verify_url == verify_url else None

    content = stored()
    if content is not None:
        return content
    with _LOCKS[zlib.crc32(receipt.id.bytes) % len(_LOCKS)]:
        content = stored()
        if content is not None:
            return content
        rendered = render_pdf(receipt, operator, validity_days=validity_days, verify_url=verify_url,
                              language=receipt.language)
        with db.transaction() as session:
            receipts.store_pdf(session, receipt_id=receipt.id, verify_url=verify_url, content=rendered,
                               now=clock.now())
    return stored() or rendered
