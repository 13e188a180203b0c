"""PDFs of the counter: a drawer's Z-report on an 80 mm thermal roll, and a store's monthly statement on A4.

A roll has no page height: the slip is laid out once on a very long page, the bottom of its content measured, and
laid out again on a page exactly that long (plus the bottom margin), so the printer cuts after the last line.
Chinese needs a CJK font (Debian's fonts-noto-cjk), as for receipts."""

from __future__ import annotations

from datetime import datetime

from weasyprint import HTML

from simkeep.store.reports import ZReport
from simkeep.store.settlement import Settlement
from simkeep.web import i18n


def N_(message: str) -> str:  # marks a message for extraction, like web.pages.N_
    return message


ROLL_WIDTH_MM = 80
METHOD_NAMES = {"cash": N_("Cash"), "card": N_("Card (store terminal)"), "voucher": N_("Recharge card")}
_PROBE_HEIGHT_MM = 3000
_PX_PER_MM = 96 / 25.4
_BOTTOM_MM = 6


def _slip_html(report: ZReport, *, language: str, printed_at: datetime, height_mm: float) -> str:
    return i18n.environment(language).get_template("counter/drawer_z_pdf.html").render(
        report=report, method_names=METHOD_NAMES, printed_at=printed_at, width_mm=ROLL_WIDTH_MM, height_mm=height_mm, tz=report.store.timezone)


def _content_bottom_mm(document) -> float:
    """Where the last box of the first page ends, in mm from the page's top."""
    lowest = 0.0

    def walk(box) -> None:
        nonlocal lowest
        bottom = getattr(box, "position_y", 0) + (box.margin_height() if hasattr(box, "margin_height") else 0)
        lowest = max(lowest, bottom)
        for child in getattr(box, "children", ()):
            walk(child)

    for child in document.pages[0]._page_box.children:  # the page box itself is the whole probe page
        walk(child)
    return lowest / _PX_PER_MM


def z_report_pdf(report: ZReport, *, language: str, printed_at: datetime) -> bytes:
    probe = HTML(string=_slip_html(report, language=language, printed_at=printed_at,
                                   height_mm=_PROBE_HEIGHT_MM)).render()
    height = round(_content_bottom_mm(probe) + _BOTTOM_MM, 1)
    html = _slip_html(report, language=language, printed_at=printed_at, height_mm=height)
    return HTML(string=html).write_pdf()


def statement_pdf(found: Settlement, *, language: str, printed_at: datetime) -> bytes:
    html = i18n.environment(language).get_template("admin/store_statement_pdf.html").render(
        statement=found, printed_at=printed_at, tz=found.store.timezone)
    return HTML(string=html).write_pdf()
