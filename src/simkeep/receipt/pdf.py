"""Receipt PDFs with WeasyPrint; Chinese text needs a CJK font (Debian's fonts-noto-cjk)."""

from __future__ import annotations

import segno
from weasyprint import HTML

from simkeep.receipt.service import masked
from simkeep.web import i18n


def render_pdf(receipt, operator, *, validity_days: int, verify_url: str, language: str) -> bytes:
    qr = segno.make(verify_url, error="m").svg_data_uri(scale=4)
    html = i18n.environment(language).get_template("receipt/pdf.html").render(
        receipt=receipt, operator=operator, validity_days=validity_days, qr=qr, verify_url=verify_url, masked=masked(receipt.msisdn))
    return HTML(string=html).write_pdf()
